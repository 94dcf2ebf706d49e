package tasks

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// TestFieldSumCoversEveryField changes each place of a job, one at a
// time, found by reflection (every field of Job but ID and kept, and of
// every type it holds, exported or not; each pointer, slice and map, and
// their elements), and checks that the sum changes: a field added to Job,
// Pairs, Auth, Timeout, Retry or Count and left out of fieldSum fails here.
func TestFieldSumCoversEveryField(t *testing.T) {
	full := func() Job {
		var j Job
		fill(reflect.ValueOf(&j).Elem(), true)
		return j
	}
	base := full()
	want := base.fieldSum()
	if again := full(); again.fieldSum() != want {
		t.Fatal("two jobs filled alike have different sums")
	}
	places := 0
	for n := 0; ; n++ {
		j := full()
		left := n
		path, ok := mutate(reflect.ValueOf(&j).Elem(), "Job", &left, true)
		if !ok {
			break
		}
		places++
		if j.fieldSum() == want {
			t.Errorf("%s changed, and the sum did not", path)
		}
	}
	// Job's fields and those of the types it holds come to 85
	// places: fewer means the walk above lost its way.
	if places < 80 {
		t.Fatalf("only %d places changed; the walk missed fields", places)
	}
}

// TestFieldSumMapOrder checks that maps equal in content sum alike,
// whatever order they were filled in, and that moving a value from one
// key to another is a change.
func TestFieldSumMapOrder(t *testing.T) {
	a, b := Job{Headers: map[string]string{}}, Job{Headers: map[string]string{}}
	for i := range 50 {
		a.Headers[fmt.Sprint("k", i)] = fmt.Sprint("v", i)
		b.Headers[fmt.Sprint("k", 49-i)] = fmt.Sprint("v", 49-i)
	}
	if a.fieldSum() != b.fieldSum() {
		t.Fatal("equal headers filled in other orders have different sums")
	}
	b.Headers["k0"], b.Headers["k1"] = b.Headers["k1"], b.Headers["k0"]
	if a.fieldSum() == b.fieldSum() {
		t.Fatal("two header values swapped: same sum")
	}
	c, d := Job{Headers: map[string]string{"ab": "c"}}, Job{Headers: map[string]string{"a": "bc"}}
	if c.fieldSum() == d.fieldSum() {
		t.Fatal(`headers {"ab": "c"} and {"a": "bc"} have the same sum`)
	}
}

// settable is v, made settable when it is an unexported field.
func settable(v reflect.Value) reflect.Value {
	if v.CanSet() || !v.CanAddr() {
		return v
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// skipped are Job's fields that fieldSum leaves out on purpose.
func skipped(top bool, name string) bool { return top && (name == "ID" || name == "kept") }

// fill gives every place of v a value other than its zero: pointers,
// slices and maps one filled element each.
func fill(v reflect.Value, top bool) {
	v = settable(v)
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint8:
		v.SetUint(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), false)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), false)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, false)
		fill(e, false)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			if !skipped(top, v.Type().Field(i).Name) {
				fill(v.Field(i), false)
			}
		}
	default:
		panic("fill: a job holds a " + v.Kind().String() + ": teach fill and mutate")
	}
}

// mutate changes the place numbered *left (counted down as places are
// passed, depth first) and returns its path; false when v has fewer.
func mutate(v reflect.Value, path string, left *int, top bool) (string, bool) {
	v = settable(v)
	here := func(what string, change func()) (string, bool) {
		if *left == 0 {
			change()
			return path + " " + what, true
		}
		*left--
		return "", false
	}
	switch v.Kind() {
	case reflect.String:
		return here("longer", func() { v.SetString(v.String() + "x") })
	case reflect.Bool:
		return here("flipped", func() { v.SetBool(!v.Bool()) })
	case reflect.Int, reflect.Int64:
		return here("+1", func() { v.SetInt(v.Int() + 1) })
	case reflect.Uint8:
		return here("+1", func() { v.SetUint(v.Uint() + 1) })
	case reflect.Float64:
		return here("+1", func() { v.SetFloat(v.Float() + 1) })
	case reflect.Pointer:
		if p, ok := here("nil", func() { v.SetZero() }); ok {
			return p, ok
		}
		return mutate(v.Elem(), "*"+path, left, false)
	case reflect.Slice:
		if p, ok := here("nil", func() { v.SetZero() }); ok {
			return p, ok
		}
		if p, ok := here("empty", func() { v.Set(reflect.MakeSlice(v.Type(), 0, 0)) }); ok {
			return p, ok
		}
		if p, ok := here("longer", func() { v.Set(reflect.Append(v, v.Index(0))) }); ok {
			return p, ok
		}
		return mutate(v.Index(0), path+"[0]", left, false)
	case reflect.Map:
		if p, ok := here("nil", func() { v.SetZero() }); ok {
			return p, ok
		}
		if p, ok := here("empty", func() { v.Set(reflect.MakeMap(v.Type())) }); ok {
			return p, ok
		}
		k := v.MapKeys()[0]
		e := reflect.New(v.Type().Elem()).Elem()
		e.Set(v.MapIndex(k))
		nk := reflect.New(v.Type().Key()).Elem()
		nk.Set(k)
		if p, ok := mutate(nk, path+" key", left, false); ok {
			v.SetMapIndex(k, reflect.Value{})
			v.SetMapIndex(nk, e)
			return p, ok
		}
		if p, ok := mutate(e, path+"[key]", left, false); ok {
			v.SetMapIndex(k, e)
			return p, ok
		}
		return "", false
	case reflect.Struct:
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if skipped(top, name) {
				continue
			}
			if p, ok := mutate(v.Field(i), path+"."+name, left, false); ok {
				return p, ok
			}
		}
		return "", false
	}
	panic("mutate: a job holds a " + v.Kind().String() + ": teach fill and mutate")
}
