package httpexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
//
// An object that gives a key twice is written as the dict json.loads
// makes of it: the key once, where it first stood, with its last value.
// Such a value is read whole first (pyTree); any other is written as it is
// read.
func pyJSON(raw []byte) ([]byte, error) {
	twice, err := keyTwice(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPyJSON, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	b.Grow(len(raw) + len(raw)/4)
	if twice {
		n, err := pyTree(dec)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errPyJSON, err)
		}
		n.write(&b)
		return b.Bytes(), nil
	}
	if err := pyValue(dec, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", errPyJSON, err)
	}
	return b.Bytes(), nil
}

// keyTwice reports whether an object in raw gives a key twice, in one
// pass over its tokens.
func keyTwice(raw []byte) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type open struct {
		keys      map[string]struct{} // nil: an array
		expectKey bool
	}
	var stack []*open
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if n := len(stack); n > 0 && stack[n-1].expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if _, ok := stack[n-1].keys[key]; ok {
				return true, nil
			}
			stack[n-1].keys[key] = struct{}{}
			stack[n-1].expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &open{keys: map[string]struct{}{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &open{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// pyNode is a JSON value read whole, as json.loads holds it: a scalar as
// json.dumps writes it, or an array's items, or an object's keys (each
// once, where it first stood) and their last values.
type pyNode struct {
	enc  []byte
	kind json.Delim // '[' or '{'; 0: a scalar
	keys []string
	kids []*pyNode
}

// pyTree reads the next value of dec whole.
func pyTree(dec *json.Decoder) (*pyNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		var b bytes.Buffer
		pyScalar(&b, tok)
		return &pyNode{enc: b.Bytes()}, nil
	}
	n := &pyNode{kind: d}
	var at map[string]int
	if d == '{' {
		at = map[string]int{}
	}
	for dec.More() {
		var key string
		if d == '{' {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ = k.(string)
		}
		kid, err := pyTree(dec)
		if err != nil {
			return nil, err
		}
		if d == '{' {
			if i, ok := at[key]; ok {
				n.kids[i] = kid
				continue
			}
			at[key] = len(n.kids)
			n.keys = append(n.keys, key)
		}
		n.kids = append(n.kids, kid)
	}
	if _, err := dec.Token(); err != nil { // ] or }
		return nil, err
	}
	return n, nil
}

// write writes n as json.dumps does.
func (n *pyNode) write(b *bytes.Buffer) {
	if n.kind == 0 {
		b.Write(n.enc)
		return
	}
	b.WriteByte(byte(n.kind))
	for i, kid := range n.kids {
		if i > 0 {
			b.WriteString(", ")
		}
		if n.kind == '{' {
			pyString(b, n.keys[i])
			b.WriteString(": ")
		}
		kid.write(b)
	}
	if n.kind == '{' {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
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
	default:
		pyScalar(b, tok)
	}
	return nil
}

// pyScalar writes a string, number, bool or null token as json.dumps does.
func pyScalar(b *bytes.Buffer, tok json.Token) {
	switch v := tok.(type) {
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
