package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestFieldError(t *testing.T) {
	tests := []struct {
		name string
		err  *tasks.FieldError
		want []string // parts the message must hold
	}{
		{"with detail", &tasks.FieldError{Field: "timeout", Err: tasks.ErrValue, Detail: "above 0"}, []string{`"timeout"`, tasks.ErrValue.Error(), "above 0"}},
		{"without detail", &tasks.FieldError{Field: "url", Err: tasks.ErrRequired}, []string{`"url"`, tasks.ErrRequired.Error()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Error() = %q, does not name %q", msg, w)
				}
			}
			if !errors.Is(tt.err, tt.err.Err) {
				t.Errorf("FieldError does not unwrap to %v", tt.err.Err)
			}
			if strings.HasSuffix(msg, ": ") {
				t.Errorf("Error() = %q ends with a separator", msg)
			}
		})
	}
}

func TestSentinelsDistinct(t *testing.T) {
	all := append(sentinels, tasks.ErrQueue)
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v wraps %v", a, b)
			}
		}
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := tasks.DecodeJob([]byte(`{"url": "x",}`))
	var syn *tasks.SyntaxError
	if !errors.As(err, &syn) {
		t.Fatalf("error %v is not a *SyntaxError", err)
	}
	if !errors.Is(err, tasks.ErrSyntax) {
		t.Fatalf("error %v does not wrap ErrSyntax", err)
	}
	if syn.Offset != 13 {
		t.Errorf("Offset = %d, want 13", syn.Offset)
	}
	if !strings.HasPrefix(syn.Error(), tasks.ErrSyntax.Error()) {
		t.Errorf("Error() = %q", syn.Error())
	}
}
