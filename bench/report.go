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
	fmt.Fprintf(w, "reqfleet bench: %d jobs a round, %d %s, %d sessions in all, %d CPUs, enqueue path %s, worker path %s\n\n",
		r.Jobs, r.Workers, mode, r.Concurrency, r.CPUs, r.EnqueuePath, r.WorkerPath)
	fmt.Fprintln(tw, "round\tceiling jobs/s\treqfleet jobs/s\tratio\tenqueue jobs/s\tredis B/pending job\tworker CPU µs/job\tredis CPU µs/job\ttarget CPU µs/job\t")
	for i, rd := range r.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", i+1, rd.Ceiling, rd.EndToEnd, rd.Ratio,
			rd.Enqueue, rd.RedisBytesPerJob, rd.WorkerCPUPerJob, rd.RedisCPUPerJob, rd.BenchCPUPerJob)
	}
	fmt.Fprintf(tw, "median\t%.0f\t%.0f\t%.2f\t%.0f\t%.0f\t\t\t\t\n", r.CeilingRate, r.EndToEndRate, r.Ratio, r.EnqueueRate, r.RedisBytesPerJob)
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
