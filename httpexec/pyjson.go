package httpexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/reqfleet/reqfleet/tasks"
)

// errPyJSON: a job's json value that pyJSON cannot read (DecodeJob has
// checked it: only a bug gets here).
var errPyJSON = errors.New("json body")

// pyJSON writes a job's json value as requests sends it: json.dumps of
// what json.loads read, with its defaults: ", " and ": " between items,
// every character outside printable ASCII escaped (\u00e9, surrogate
// pairs past U+FFFF), integers as written, floats as Python's repr
// (1000.0, 1e+16; Infinity past range), objects' keys in the order given.
func pyJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	b.Grow(len(raw) + len(raw)/4)
	if err := pyValue(dec, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", errPyJSON, err)
	}
	return b.Bytes(), nil
}

func pyValue(dec *json.Decoder, b *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		end := byte(']')
		if v == '{' {
			end = '}'
		}
		b.WriteByte(byte(v))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				pyString(b, key)
				b.WriteString(": ")
			}
			if err := pyValue(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(end)
	case string:
		pyString(b, v)
	case json.Number:
		s := tasks.PyNumber(v.String())
		switch s {
		case "inf":
			s = "Infinity"
		case "-inf":
			s = "-Infinity"
		}
		b.WriteString(s)
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	}
	return nil
}

// pyString is json.dumps' string with ensure_ascii.
func pyString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&15])
		b.WriteByte(hex[r>>8&15])
		b.WriteByte(hex[r>>4&15])
		b.WriteByte(hex[r&15])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}
