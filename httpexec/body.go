package httpexec

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// wireReader reads a response body as it comes from the server: each read
// that brings bytes counts as progress for the read timeout, and the first
// error that is not io.EOF is kept, so that a failure of the transfer is
// told from a failure of the decoding above it.
type wireReader struct {
	r        io.Reader
	progress func()
	err      error
	n        int64 // bytes read
}

func (w *wireReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += int64(n)
	if n > 0 && w.progress != nil {
		w.progress()
	}
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// maxDecodeLinks is the longest Content-Encoding chain decoded, as
// urllib3's MultiDecoder.max_decode_links (CVE-2025-66418): a longer one
// is a ContentDecodingError, as urllib3 raises DecodeError for it.
const maxDecodeLinks = 5

// errTooManyEncodings: the Content-Encoding chain is longer than
// maxDecodeLinks.
var errTooManyEncodings = errors.New("too many content encodings in the chain")

// contentDecoder returns a reader of the body decoded from its
// Content-Encoding, as requests decodes gzip and deflate: a list of
// encodings is undone last first. A body in an encoding it does not know
// (br, zstd...) is returned as it is, as requests does without the modules
// for them. A chain of more than maxDecodeLinks encodings that holds one
// it knows fails on the first byte of the body, as urllib3's does. Errors
// of the decoding are *bodyDecodeError; errors of the wire come through as
// they are.
//
// The header is scanned in place, token by token: a value of megabytes
// builds nothing of its size.
func contentDecoder(raw *wireReader, contentEncoding string) io.Reader {
	if contentEncoding == "" {
		return raw
	}
	var (
		encs      [maxDecodeLinks]string
		n         int // tokens in the chain (empty list elements do not count)
		known     bool
		unknown   bool
		remaining = contentEncoding
	)
	for remaining != "" {
		var tok string
		tok, remaining, _ = strings.Cut(remaining, ",")
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		enc := ""
		switch {
		case strings.EqualFold(tok, "gzip"), strings.EqualFold(tok, "x-gzip"):
			enc, known = "gzip", true
		case strings.EqualFold(tok, "deflate"):
			enc, known = "deflate", true
		case strings.EqualFold(tok, "identity"):
		default:
			unknown = true
		}
		if n < maxDecodeLinks {
			encs[n] = enc
		}
		n++
		if n > maxDecodeLinks && known {
			break // urllib3 refuses the chain whatever else it holds
		}
	}
	if n > maxDecodeLinks && known {
		return &failOnData{src: raw, err: &bodyDecodeError{
			encoding: "Content-Encoding",
			err:      fmt.Errorf("%w: more than %d", errTooManyEncodings, maxDecodeLinks),
		}}
	}
	if unknown || !known {
		return raw
	}
	var r io.Reader = raw
	for i := n - 1; i >= 0; i-- {
		if encs[i] != "" {
			r = &lazyDecoder{src: r, wire: raw, encoding: encs[i]}
		}
	}
	return r
}

// failOnData fails with err once the body shows a byte: an empty body
// stays an empty body.
type failOnData struct {
	src io.Reader
	err error
}

func (f *failOnData) Read(p []byte) (int, error) {
	var one [1]byte
	n, err := f.src.Read(one[:])
	if n > 0 {
		return 0, f.err
	}
	return 0, err
}

// lazyDecoder opens its decompressor on the first read, so that an empty
// body (a HEAD, a 204) with a Content-Encoding is an empty body.
type lazyDecoder struct {
	src      io.Reader
	wire     *wireReader
	encoding string
	dec      io.Reader
	done     bool
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.done {
		return 0, io.EOF
	}
	if d.dec == nil {
		dec, err := d.open()
		if err == io.EOF {
			d.done = true
			return 0, io.EOF
		}
		if err != nil {
			return 0, d.wrap(err)
		}
		d.dec = dec
	}
	n, err := d.dec.Read(p)
	if err != nil && err != io.EOF {
		err = d.wrap(err)
	}
	return n, err
}

func (d *lazyDecoder) open() (io.Reader, error) {
	if d.encoding != "deflate" {
		return gzip.NewReader(d.src)
	}
	// "deflate" is zlib by the RFC and raw deflate in the wild: requests
	// (urllib3) tries zlib and falls back to raw deflate, as here.
	var hdr [2]byte
	n, err := io.ReadFull(d.src, hdr[:])
	if n == 0 {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return nil, err
	}
	src := io.MultiReader(strings.NewReader(string(hdr[:n])), d.src)
	if n == 2 && hdr[0]&0x0f == 8 && (uint(hdr[0])<<8|uint(hdr[1]))%31 == 0 {
		return zlib.NewReader(src)
	}
	return flate.NewReader(src), nil
}

// wrap marks an error as the decoder's own unless the wire failed first.
func (d *lazyDecoder) wrap(err error) error {
	var de *bodyDecodeError
	if d.wire.err != nil || errors.As(err, &de) {
		return err
	}
	return &bodyDecodeError{encoding: d.encoding, err: err}
}

// readLimited reads r to its end or to max bytes, whichever comes first;
// truncated reports that there was more. hint is the expected length, or
// -1.
func readLimited(r io.Reader, max, hint int64) (b []byte, truncated bool, err error) {
	size := int64(512)
	if hint >= 0 {
		size = min(hint, max) + 1 // +1: the read that sees EOF needs room
	}
	b = make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := int64(cap(b) - len(b))
		if over := int64(len(b)) + room - (max + 1); over > 0 {
			room -= over
		}
		n, rerr := r.Read(b[len(b) : len(b)+int(room)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return b[:max], true, nil
		}
		if rerr == io.EOF {
			return b, false, nil
		}
		if rerr != nil {
			return b, false, rerr
		}
	}
}

// encodeBody turns the body into the outcome's text: as it is when it is
// UTF-8, else base64. A body cut at the cap may end in the middle of a
// character: that incomplete sequence is dropped before the check, so a
// cut rune does not force base64.
func encodeBody(b []byte, truncated bool) (text, encoding string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	if truncated {
		if t := trimPartialRune(b); len(t) < len(b) && utf8.Valid(t) {
			return string(t), ""
		}
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}

// headerMap flattens headers as requests' CaseInsensitiveDict shows them:
// several values of one name joined with ", ".
func headerMap(h http.Header) map[string]string {
	if len(h) == 0 {
		return map[string]string{}
	}
	m := make(map[string]string, len(h))
	for k, vv := range h {
		m[k] = strings.Join(vv, ", ")
	}
	return m
}

// capHeaders is the reason phrase and the headers of a response as the
// outcome keeps them: at most max bytes counted as on the wire (the
// reason, then "Name: value\r\n" for each value). Headers are taken
// whole, in the order of their names, and one that does not fit in what
// is left is left out; a reason longer than max is cut. cut reports that
// something was left out.
func capHeaders(resp *http.Response, max int) (why string, headers map[string]string, cut bool) {
	why = reason(resp)
	if len(why) > max {
		why, cut = strings.ToValidUTF8(why[:max], ""), true
	}
	max -= len(why)
	total := 0
	for k, vv := range resp.Header {
		for _, v := range vv {
			total += len(k) + len(v) + 4
		}
	}
	if total <= max {
		return why, headerMap(resp.Header), cut
	}
	headers = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		n := 0
		for _, v := range resp.Header[k] {
			n += len(k) + len(v) + 4
		}
		if n > max {
			continue
		}
		max -= n
		headers[k] = strings.Join(resp.Header[k], ", ")
	}
	return why, headers, true
}

// headerBytes is the wire size of headers as capHeaders counts them (a
// joined value as one).
func headerBytes(h map[string]string) int {
	n := 0
	for k, v := range h {
		n += len(k) + len(v) + 4
	}
	return n
}

// reason is the status line's reason phrase, as requests' reason: what
// follows the code, "" when the line has none.
func reason(resp *http.Response) string {
	code := strconv.Itoa(resp.StatusCode)
	if rest, ok := strings.CutPrefix(resp.Status, code+" "); ok {
		return rest
	}
	if resp.Status == "" { // a response not read from the wire
		return http.StatusText(resp.StatusCode)
	}
	if resp.Status != code {
		return resp.Status
	}
	return ""
}
