package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestValidateQueue(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"default", true},
		{"q", true},
		{"crawl-eu_1.v2:high", true},
		{"UPPER", true},
		{"0", true},
		{strings.Repeat("q", 128), true},
		{"", false},
		{strings.Repeat("q", 129), false},
		{"a b", false},
		{"a{b", false},
		{"a}b", false},
		{"{q}", false},
		{"a/b", false},
		{"a*", false},
		{"é", false},
		{"q\n", false},
		{"q\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tasks.ValidateQueue(tt.name)
			if tt.ok {
				if err != nil {
					t.Errorf("ValidateQueue(%q) = %v", tt.name, err)
				}
				return
			}
			if !errors.Is(err, tasks.ErrQueue) {
				t.Errorf("ValidateQueue(%q) = %v, want ErrQueue", tt.name, err)
			}
		})
	}
}
