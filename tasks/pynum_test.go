package tasks

import "testing"

// TestPyNumber: the wants are Python 3's str(json.loads(lit)).
func TestPyNumber(t *testing.T) {
	tests := []struct{ lit, want string }{
		{"10", "10"}, {"-0", "0"}, {"0", "0"}, {"123456789012345678901234567890", "123456789012345678901234567890"},
		{"1e3", "1000.0"}, {"1.50", "1.5"}, {"1000.0", "1000.0"}, {"-0.0", "-0.0"}, {"0.1", "0.1"},
		{"1e16", "1e+16"}, {"9999999999999998", "9999999999999998"}, {"9999999999999998.0", "9999999999999998.0"},
		{"0.0001", "0.0001"}, {"0.00001", "1e-05"}, {"1.5e-7", "1.5e-07"}, {"1e400", "inf"}, {"-1e400", "-inf"},
		{"2.5E2", "250.0"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			if got := PyNumber(tt.lit); got != tt.want {
				t.Errorf("PyNumber(%s) = %q, want %q", tt.lit, got, tt.want)
			}
		})
	}
}
