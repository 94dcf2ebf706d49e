// Package layout has no code: its tests check rules of the repository's
// shape that golangci-lint (.golangci.yml) cannot express: only
// internal/rdb names asynq's keys and makes Redis scripts, and no doc
// comment is cut off from its declaration by a blank line.
package layout
