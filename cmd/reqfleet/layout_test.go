package main

import (
	"context"
	"strings"
	"testing"
)

// --force-asynq-layout is one flag of one meaning in every command that
// runs the fast paths.
func TestForceAsynqLayoutFlag(t *testing.T) {
	for _, cmd := range []string{"worker", "enqueue", "run", "bench"} {
		t.Run(cmd, func(t *testing.T) {
			var c cli
			_ = c.run(context.Background(), cmd, "-h")
			help := c.stderr.String() + c.stdout.String()
			if !strings.Contains(help, "-force-asynq-layout\n") || !strings.Contains(help, "fall back to asynq's Client and processor") {
				t.Fatalf("%s -h does not offer --force-asynq-layout:\n%s", cmd, help)
			}
		})
	}
}
