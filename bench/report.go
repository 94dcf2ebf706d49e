package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the result as a table: one line per round, then the
// medians and the other figures.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	mode := "worker processes"
	if r.InProcess {
		mode = "workers in the bench process"
	}
	if r.WorkerGOMAXPROCS > 0 {
		mode += fmt.Sprintf(" (GOMAXPROCS %d each)", r.WorkerGOMAXPROCS)
	}
	fmt.Fprintf(w, "reqfleet bench: %d jobs a round, %d %s, %d sessions in all, %d CPUs, enqueue path %s, worker path %s\n\n",
		r.Jobs, r.Workers, mode, r.Concurrency, r.CPUs, r.EnqueuePath, r.WorkerPath)
	fmt.Fprintln(tw, "round\tceiling jobs/s\treqfleet jobs/s\tratio\tenqueue jobs/s\tredis B/pending job\tworker CPU µs/job\tredis CPU µs/job\ttarget CPU µs/job\tceiling client CPU µs/req\tworker/client CPU\tCPU ratio\t")
	for i, rd := range r.Rounds {
		times := ""
		if rd.CeilingCPUPerReq > 0 && rd.WorkerCPUPerJob > 0 {
			times = fmt.Sprintf("%.1fx", rd.WorkerCPUPerJob/rd.CeilingCPUPerReq)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%.2f\t\n", i+1, rd.Ceiling, rd.EndToEnd, rd.Ratio,
			rd.Enqueue, rd.RedisBytesPerJob, rd.WorkerCPUPerJob, rd.RedisCPUPerJob, rd.BenchCPUPerJob, rd.CeilingCPUPerReq, times, rd.CPURatio)
	}
	fmt.Fprintf(tw, "median\t%.0f\t%.0f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\t%.2f\t\n", r.CeilingRate, r.EndToEndRate, r.Ratio, r.EnqueueRate, r.RedisBytesPerJob,
		r.median(func(x Round) float64 { return x.WorkerCPUPerJob }), r.median(func(x Round) float64 { return x.RedisCPUPerJob }),
		r.median(func(x Round) float64 { return x.BenchCPUPerJob }), r.median(func(x Round) float64 { return x.CeilingCPUPerReq }),
		r.median(func(x Round) float64 { return x.CPURatio }))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "job latency, enqueued to recorded\tp50 %.1f ms, p99 %.1f ms (%d jobs at %.0f jobs/s)\n", r.LatencyP50, r.LatencyP99, r.LatencyJobs, r.LatencyRate)
	fmt.Fprintf(tw, "idle pickup, enqueued to request\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.PickupP50, r.PickupP99, r.PickupMax)
	fmt.Fprintf(tw, "idle CPU (of one core)\tworkers %.1f%%, redis %.1f%%\n", r.IdleWorkerCPU, r.IdleRedisCPU)
	if !r.InProcess {
		fmt.Fprintf(tw, "worker peak RSS\t%s\n", mibs(r.WorkerPeakRSS))
		fmt.Fprintf(tw, "enqueuer peak RSS\t%.1f MiB\n", mib(r.EnqueuerPeakRSS))
	}
	fmt.Fprintf(tw, "bench process peak RSS\t%.1f MiB\n", mib(r.BenchPeakRSS))
	return tw.Flush()
}

// median is the median over the rounds of one figure.
func (r *Result) median(f func(Round) float64) float64 {
	v := make([]float64, 0, len(r.Rounds))
	for _, rd := range r.Rounds {
		v = append(v, f(rd))
	}
	return quantile(v, 0.5)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func mibs(v []int64) string {
	s := ""
	for i, b := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.1f MiB", mib(b))
	}
	return s
}
