package tasks

import "fmt"

// ValidateQueue checks that a queue name is usable in reqfleet's and asynq's
// keys: 1 to 128 characters of letters, digits, '-', '_', '.' and ':'.
func ValidateQueue(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w %q: must be 1 to 128 characters", ErrQueue, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("%w %q: use letters, digits, '-', '_', '.' or ':'", ErrQueue, name)
		}
	}
	return nil
}
