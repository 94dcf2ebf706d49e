package enqueuer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/reqfleet/reqfleet/tasks"
)

// The readers stream: they hold one line at a time, of at most maxLine
// bytes (DefaultMaxLine when maxLine <= 0), not counting its "\n" or
// "\r\n". Every error they yield is a *LineError naming its line. After a
// bad line (one that does not decode, or is too long) they go on with the
// next, so a caller may list every bad line; a read error ends them. An
// iterator reads r as it goes: ranging over it a second time reads on from
// where the first stopped.

// ReadJSONL reads one job per line, as tasks.DecodeJob decodes it. Blank
// lines are skipped. A line that is not valid JSON, not an object or not a
// job is an error wrapping the tasks package's sentinel (tasks.ErrSyntax,
// tasks.ErrUnknownField, ...); a job whose id an earlier line gave is one
// wrapping ErrDuplicateID, as a batch would refuse it. For that the reader
// keeps a 64-bit hash of each id (8 to 16 bytes an id), as a batch does.
func ReadJSONL(r io.Reader, maxLine int) iter.Seq2[tasks.Job, error] {
	var ids idSet
	return readLines(r, maxLine, func(line []byte) (tasks.Job, bool, error) {
		if len(bytes.TrimSpace(line)) == 0 {
			return tasks.Job{}, false, nil
		}
		job, err := tasks.DecodeJob(line)
		if err == nil && job.ID != "" && !ids.add(xxhash.Sum64String(job.ID)) {
			err = fmt.Errorf("id %q: %w", job.ID, ErrDuplicateID)
		}
		return job, true, err
	})
}

// readLines yields what parse makes of each line: a job, nothing (ok false)
// or an error, which is yielded as a *LineError naming the line, as are
// lines that are too long; a read error ends it.
func readLines(r io.Reader, maxLine int, parse func(line []byte) (job tasks.Job, ok bool, err error)) iter.Seq2[tasks.Job, error] {
	return func(yield func(tasks.Job, error) bool) {
		lr := newLineReader(r, maxLine)
		for {
			line, err := lr.next()
			switch {
			case err == io.EOF:
				return
			case errors.Is(err, ErrLineTooLong):
				if !yield(tasks.Job{}, &LineError{Line: lr.line, Err: err}) {
					return
				}
				continue
			case err != nil:
				yield(tasks.Job{}, &LineError{Line: lr.line, Err: err})
				return
			}
			job, ok, err := parse(line)
			switch {
			case err != nil:
				if !yield(tasks.Job{}, &LineError{Line: lr.line, Err: err}) {
					return
				}
			case ok:
				if !yield(job, nil) {
					return
				}
			}
		}
	}
}

// ReadURLs reads one URL per line; each job is tmpl (its method, headers,
// timeout, ...) with that URL. The template's maps and pointers are copied
// for every job, and its ID is not used: each job gets its own. Blank lines
// and lines starting with # are skipped, and white space around a URL is
// dropped. A URL is not checked: one that requests would refuse when
// sending (no scheme, ftp://) is enqueued and lands as an exception.
func ReadURLs(r io.Reader, tmpl tasks.Job, maxLine int) iter.Seq2[tasks.Job, error] {
	return readLines(r, maxLine, func(line []byte) (tasks.Job, bool, error) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			return tasks.Job{}, false, nil
		}
		job := cloneJob(tmpl).Normalized() // built here, not as given
		job.ID = ""
		job.URL = string(line)
		return job, true, nil
	})
}

// FromURLs is requests_toolbelt's Pool.from_urls: a GET job per URL.
func FromURLs(urls []string) iter.Seq2[tasks.Job, error] {
	return func(yield func(tasks.Job, error) bool) {
		for _, u := range urls {
			if !yield(tasks.Job{Method: "GET", URL: u}, nil) {
				return
			}
		}
	}
}

// FromExceptions is Pool.from_exceptions: the exceptions' original
// requests, with their ids, to enqueue as a new batch. An exception without
// a request yields an error wrapping ErrNoRequest, and the iterator goes on.
func FromExceptions(excs iter.Seq[tasks.Exception]) iter.Seq2[tasks.Job, error] {
	return func(yield func(tasks.Job, error) bool) {
		for e := range excs {
			if e.Request.URL == "" {
				err := fmt.Errorf("%w: exception %q of batch %q", ErrNoRequest, e.ID, e.Batch)
				if !yield(tasks.Job{}, err) {
					return
				}
				continue
			}
			job := e.Request
			if job.ID == "" {
				job.ID = e.ID
			}
			if !yield(job, nil) {
				return
			}
		}
	}
}

// cloneJob copies j with its own maps, slices and pointed-to values.
func cloneJob(j tasks.Job) tasks.Job {
	c := j
	c.Params = clonePairs(j.Params)
	c.Headers = maps.Clone(j.Headers)
	c.RemoveHeaders = slices.Clone(j.RemoveHeaders)
	c.Data = clonePairs(j.Data)
	c.JSON = bytes.Clone(j.JSON)
	c.Cookies = maps.Clone(j.Cookies)
	c.Auth = clonePtr(j.Auth)
	c.Timeout = clonePtr(j.Timeout)
	c.AllowRedirects = clonePtr(j.AllowRedirects)
	c.Meta = bytes.Clone(j.Meta)
	c.Retries = j.Retries.Clone()
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func clonePairs(p *tasks.Pairs) *tasks.Pairs {
	if p == nil {
		return nil
	}
	return &tasks.Pairs{Text: clonePtr(p.Text), List: slices.Clone(p.List)}
}

// lineReader reads lines of at most max bytes, skipping the rest of longer
// ones, and counts them.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int    // number of the line last returned
	buf  []byte // reused
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: maxLine}
}

// utf8BOM starts some files written on Windows; it is not part of line 1.
const utf8BOM = "\xEF\xBB\xBF"

// next returns the next line without its line end, valid until the next
// call; io.EOF at the end; an error wrapping ErrLineTooLong for a line over
// max, whose bytes are skipped; or the reader's error.
func (l *lineReader) next() ([]byte, error) {
	if cap(l.buf) > 1<<20 { // do not keep a huge line's buffer
		l.buf = nil
	}
	l.buf = l.buf[:0]
	l.line++
	read, tooLong := false, false
	for {
		chunk, err := l.br.ReadSlice('\n')
		read = read || len(chunk) > 0
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+2 { // +2: room for "\r\n"
				tooLong, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if !read {
				l.line--
				return nil, io.EOF
			}
			break
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	if tooLong {
		return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
	}
	line := bytes.TrimSuffix(l.buf, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if l.line == 1 {
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	if len(line) > l.max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
	}
	return line, nil
}
