package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

// progress shows a batch's advance on stderr: a bar redrawn in place on a
// terminal, a plain line every few seconds otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	start    time.Time
	last     time.Time
	every    time.Duration
}

func (a *app) newProgress() *progress {
	p := &progress{w: a.stderr, terminal: isTerminal(a.stderr), start: time.Now(), every: 5 * time.Second}
	if p.terminal {
		p.every = 100 * time.Millisecond
	} else {
		p.last = p.start // plain lines: the first after `every`, none for short runs
	}
	return p
}

func (p *progress) update(st outcomes.BatchStatus) {
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	p.draw(st, now)
}

func (p *progress) draw(st outcomes.BatchStatus, now time.Time) {
	total := st.Expected()
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(st.Done) / elapsed
	}
	eta := "?"
	if rate > 0 && st.Sealed && total >= st.Done {
		eta = time.Duration(float64(total-st.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	more := ""
	if !st.Sealed {
		more = "+" // still enqueuing
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "progress: %d/%d%s done, %d exceptions, %.0f jobs/s, ETA %s\n", st.Done, total, more, st.Exceptions, rate, eta)
		return
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = int(min(int64(width), st.Done*width/total))
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r[%s] %d/%d%s  %.0f jobs/s  ETA %s  ", bar, st.Done, total, more, rate, eta)
}

// finish draws the final state and ends the line.
func (p *progress) finish(st outcomes.BatchStatus) {
	if p.terminal {
		p.draw(st, time.Now())
		fmt.Fprintln(p.w)
	}
}
