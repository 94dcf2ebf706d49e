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
		keys, vals, err := orderedMembers(raw)
		if err != nil {
			return nil, fieldErr(field, ErrType, "must be an object")
		}
		var ms members
		for i, k := range keys {
			ms.set(k, vals[i])
		}
		return ms.pairs(field)
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

// members are an object's members as Python's json reads them into a
// dict, which requests then sends in order: a key given twice keeps its
// last value, where the key first stood.
type members struct {
	keys []string
	vals []json.RawMessage
	at   map[string]int // index of each key, once there are many
}

// manyMembers is where members starts to index its keys.
const manyMembers = 16

func (m *members) set(key string, v json.RawMessage) {
	if m.at != nil {
		if i, ok := m.at[key]; ok {
			m.vals[i] = v
			return
		}
	} else {
		for i, k := range m.keys {
			if k == key {
				m.vals[i] = v
				return
			}
		}
	}
	m.keys, m.vals = append(m.keys, key), append(m.vals, v)
	if m.at != nil {
		m.at[key] = len(m.keys) - 1
	} else if len(m.keys) == manyMembers {
		m.at = make(map[string]int, 2*manyMembers)
		for i, k := range m.keys {
			m.at[k] = i
		}
	}
}

// pairs are the members' pairs, a list value one pair an item.
func (m *members) pairs(field string) (*Pairs, error) {
	p := &Pairs{List: []Pair{}}
	for i, k := range m.keys {
		if err := p.add(field, k, m.vals[i]); err != nil {
			return nil, err
		}
	}
	return p, nil
}
