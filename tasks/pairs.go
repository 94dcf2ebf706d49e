package tasks

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// Pair is one key and value of a query string or a form.
type Pair struct {
	Key   string
	Value string
}

// Pairs holds requests' params= or data=: either a string, sent as it is,
// or key/value pairs in order (from a JSON object or a list of [key, value]
// pairs). It marshals back as a string or as a list of pairs, both of which
// requests accepts, so a job survives a round trip through an outcome.
type Pairs struct {
	Text *string // set when the JSON value was a string
	List []Pair
}

// Encode returns the pairs form-encoded in order, or the text as it is.
func (p *Pairs) Encode() string {
	if p == nil {
		return ""
	}
	if p.Text != nil {
		return *p.Text
	}
	var b strings.Builder
	for i, kv := range p.List {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv.Value))
	}
	return b.String()
}

// MarshalJSON writes the text as a JSON string or the pairs as [[k, v], ...].
func (p Pairs) MarshalJSON() ([]byte, error) {
	if p.Text != nil {
		return json.Marshal(*p.Text)
	}
	list := make([][2]string, len(p.List))
	for i, kv := range p.List {
		list[i] = [2]string{kv.Key, kv.Value}
	}
	return json.Marshal(list)
}

// decodePairs reads a string, an object of scalars or lists of scalars, or a
// list of [key, value] pairs. Null values in an object are dropped, as
// requests drops None.
func decodePairs(field string, raw json.RawMessage) (*Pairs, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fieldErr(field, ErrType, "must be a string, an object or a list of [key, value] pairs")
		}
		return &Pairs{Text: &s}, nil
	case '{':
		if !isCompact(raw) {
			return pairsByDecoder(field, raw)
		}
		// Compact (and valid, as every value a decoder gets): its members
		// in order, as the decoder reads them (FuzzPairsObject diffs the two).
		p := &Pairs{List: []Pair{}}
		for key, v := range objectMembers(raw) {
			if err := p.add(field, key, v); err != nil {
				return nil, err
			}
		}
		return p, nil
	case '[':
		var items [][]json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fieldErr(field, ErrType, "a list must hold [key, value] pairs")
		}
		p := &Pairs{List: make([]Pair, 0, len(items))}
		for _, it := range items {
			if len(it) != 2 {
				return nil, fieldErr(field, ErrType, "a list must hold [key, value] pairs")
			}
			var k string
			if firstByte(it[0]) != '"' || json.Unmarshal(it[0], &k) != nil {
				return nil, fieldErr(field, ErrType, "a pair's key must be a string")
			}
			if err := p.add(field, k, it[1]); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	return nil, fieldErr(field, ErrType, "must be a string, an object or a list of [key, value] pairs")
}

// add appends key's value: a scalar, or a list of scalars that becomes one
// pair each, as requests expands a list value. Null values are dropped.
func (p *Pairs) add(field, key string, v json.RawMessage) error {
	if firstByte(v) == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return fieldErr(field+"."+key, ErrType, "must be a list of scalars")
		}
		for _, it := range items {
			if err := p.add1(field, key, it); err != nil {
				return err
			}
		}
		return nil
	}
	return p.add1(field, key, v)
}

func (p *Pairs) add1(field, key string, v json.RawMessage) error {
	s, ok, err := scalarText(field+"."+key, v)
	if err != nil {
		return err
	}
	if ok {
		p.List = append(p.List, Pair{key, s})
	}
	return nil
}

// scalarText renders a JSON scalar as Python's str() would: strings as they
// are, numbers as Python prints what json.loads made of them (PyNumber),
// true/false as True/False. ok is false for null.
func scalarText(field string, raw json.RawMessage) (s string, ok bool, err error) {
	switch firstByte(raw) {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, fieldErr(field, ErrType, "must be a string, number or boolean")
		}
		return s, true, nil
	case 't':
		return "True", true, nil
	case 'f':
		return "False", true, nil
	case 'n':
		return "", false, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return PyNumber(string(bytes.TrimSpace(raw))), true, nil
	}
	return "", false, fieldErr(field, ErrType, "must be a string, number or boolean")
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// pairsByDecoder is an object's members in order, a key met twice kept
// twice, read by encoding/json's Decoder.
func pairsByDecoder(field string, raw json.RawMessage) (*Pairs, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, fieldErr(field, ErrType, "must be an object")
	}
	p := &Pairs{List: []Pair{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fieldErr(field, ErrType, "must be an object")
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fieldErr(field, ErrType, "must be an object")
		}
		if err := p.add(field, key, v); err != nil {
			return nil, err
		}
	}
	return p, nil
}
