package tasks

import (
	"math"
	"strconv"
	"strings"
)

// PyNumber is Python's str() of a JSON number literal as json.loads reads
// it: an integer (no '.', 'e' or 'E') as Python's int, digits as written
// ("-0" is "0"); any other as a float, in Python's repr ("1000.0", "1.5",
// "1e+16", "1e-05"; "inf" past float range).
func PyNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if lit == "-0" {
			return "0"
		}
		return lit
	}
	f, _ := strconv.ParseFloat(lit, 64) // ±Inf past range, as Python's float()
	return PyFloat(f)
}

// PyFloat is Python's repr of a float: the shortest digits that read back
// the same, in fixed notation with at least one decimal from 1e-4 up to
// 1e16, in exponent notation outside.
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a < 1e-4 || a >= 1e16 {
		return strconv.FormatFloat(f, 'e', -1, 64) // 1e+16, 1.5e-05: as Python's
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
