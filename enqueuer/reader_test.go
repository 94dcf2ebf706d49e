package enqueuer

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// item is one thing an iterator yielded: a job's URL, or an error's line
// and sentinel.
type item struct {
	url  string
	line int
	err  error
}

func collect(t *testing.T, seq func(func(tasks.Job, error) bool)) []item {
	t.Helper()
	var out []item
	for job, err := range seq {
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LineError", err)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not start with its line", err)
			}
			out = append(out, item{line: le.Line, err: err})
			continue
		}
		out = append(out, item{url: job.URL})
	}
	return out
}

func checkItems(t *testing.T, got []item, want []item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d items %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		switch {
		case w.err == nil && (g.err != nil || g.url != w.url):
			t.Errorf("item %d: got %+v, want url %q", i, g, w.url)
		case w.err != nil && (g.line != w.line || !errors.Is(g.err, w.err)):
			t.Errorf("item %d: got line %d err %v, want line %d err %v", i, g.line, g.err, w.line, w.err)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	long := `{"url": "http://h/` + strings.Repeat("x", 100) + `"}`
	tests := []struct {
		name    string
		in      string
		maxLine int
		want    []item
	}{
		{"jobs and blank lines", "{\"url\": \"http://h/1\"}\n\n  \t\n{\"url\": \"http://h/2\"}\n",
			0, []item{{url: "http://h/1"}, {url: "http://h/2"}}},
		{"no final newline", "{\"url\": \"http://h/1\"}\n{\"url\": \"http://h/2\"}",
			0, []item{{url: "http://h/1"}, {url: "http://h/2"}}},
		{"crlf and bom", "\xEF\xBB\xBF{\"url\": \"http://h/1\"}\r\n{\"url\": \"http://h/2\"}\r\n",
			0, []item{{url: "http://h/1"}, {url: "http://h/2"}}},
		{"empty", "", 0, nil},
		{"invalid json", "{\"url\": \"http://h/1\"}\n{\"url\": \n{\"url\": \"http://h/3\"}\n",
			0, []item{{url: "http://h/1"}, {line: 2, err: tasks.ErrSyntax}, {url: "http://h/3"}}},
		{"not an object", "[1, 2]\n\"x\"\nnull\n",
			0, []item{{line: 1, err: tasks.ErrNotObject}, {line: 2, err: tasks.ErrNotObject}, {line: 3, err: tasks.ErrNotObject}}},
		{"unknown key", "\n{\"url\": \"http://h/1\", \"files\": {}}\n",
			0, []item{{line: 2, err: tasks.ErrUnknownField}}},
		{"wrong type", "{\"url\": \"http://h/1\", \"timeout\": \"soon\"}\n",
			0, []item{{line: 1, err: tasks.ErrType}}},
		{"missing url", "{\"method\": \"GET\"}\n",
			0, []item{{line: 1, err: tasks.ErrRequired}}},
		{"line over maxLine", "{\"url\": \"http://h/1\"}\n" + long + "\n{\"url\": \"http://h/3\"}\n",
			len(long) - 1, []item{{url: "http://h/1"}, {line: 2, err: ErrLineTooLong}, {url: "http://h/3"}}},
		{"line of maxLine", long + "\r\n", len(long), []item{{url: "http://h/" + strings.Repeat("x", 100)}}},
		{"duplicate id", "{\"id\": \"a\", \"url\": \"http://h/1\"}\n{\"url\": \"http://h/2\"}\n{\"id\": \"b\", \"url\": \"http://h/3\"}\n\n{\"id\": \"a\", \"url\": \"http://h/5\"}\n",
			0, []item{{url: "http://h/1"}, {url: "http://h/2"}, {url: "http://h/3"}, {line: 5, err: ErrDuplicateID}}},
		{"last line over maxLine", "{\"url\": \"http://h/1\"}\n" + long,
			len(long) - 1, []item{{url: "http://h/1"}, {line: 2, err: ErrLineTooLong}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkItems(t, collect(t, ReadJSONL(strings.NewReader(tt.in), tt.maxLine)), tt.want)
		})
	}
}

func TestReadJSONLErrorMessage(t *testing.T) {
	in := "{\"url\": \"http://h/1\"}\n" + strings.Repeat("\n", 10) + "{\"url\": \"http://h/1\", \"timeout\": \"x\"}\n"
	for _, err := range ReadJSONL(strings.NewReader(in), 0) {
		if err == nil {
			continue
		}
		if got, want := err.Error(), `line 12: field "timeout": `; !strings.HasPrefix(got, want) {
			t.Fatalf("error %q, want it to start with %q", got, want)
		}
		var fe *tasks.FieldError
		if !errors.As(err, &fe) || fe.Field != "timeout" {
			t.Fatalf("error %v: no *tasks.FieldError of timeout", err)
		}
		return
	}
	t.Fatal("no error")
}

// TestReadJSONLHugeLine reads a line far over maxLine through a small
// reader buffer, and goes on after it.
func TestReadJSONLHugeLine(t *testing.T) {
	in := io.MultiReader(
		strings.NewReader(`{"url": "http://h/`),
		io.LimitReader(infiniteX{}, 5<<20),
		strings.NewReader("\"}\n{\"url\": \"http://h/2\"}\n"))
	checkItems(t, collect(t, ReadJSONL(in, 1<<20)),
		[]item{{line: 1, err: ErrLineTooLong}, {url: "http://h/2"}})
}

type infiniteX struct{}

func (infiniteX) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestReadJSONLReadError(t *testing.T) {
	boom := errors.New("disk gone")
	in := io.MultiReader(strings.NewReader("{\"url\": \"http://h/1\"}\n{\"url\""), iotest.ErrReader(boom))
	got := collect(t, ReadJSONL(in, 0))
	checkItems(t, got, []item{{url: "http://h/1"}, {line: 2, err: boom}})
}

func TestReadJSONLStopsEarly(t *testing.T) {
	in := "{\"url\": \"http://h/1\"}\nbad\n{\"url\": \"http://h/3\"}\n"
	n := 0
	for range ReadJSONL(strings.NewReader(in), 0) { //nolint:errcheck // only counts that it stops after one
		n++
		break
	}
	if n != 1 {
		t.Fatalf("%d items after break", n)
	}
}

func TestReadURLs(t *testing.T) {
	timeout := &tasks.Timeout{Connect: 3 * time.Second, Read: 3 * time.Second}
	tmpl := tasks.Job{ID: "tmpl-id", Method: "POST", Headers: map[string]string{"X-Token": "t"},
		Timeout: timeout, Meta: []byte(`{"a":1}`)}
	in := "# urls\nhttp://h/1\n\n  https://h/2  \r\n#http://commented\nh/no-scheme\nftp://h/f\nnot a url at all\n"
	var jobs []tasks.Job
	for job, err := range ReadURLs(strings.NewReader(in), tmpl, 0) {
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	var urls []string
	for _, j := range jobs {
		urls = append(urls, j.URL)
		if j.ID != "" || j.Method != "POST" || j.Headers["X-Token"] != "t" || *j.Timeout != *timeout || string(j.Meta) != `{"a":1}` {
			t.Errorf("job %+v is not the template with its url", j)
		}
	}
	want := []string{"http://h/1", "https://h/2", "h/no-scheme", "ftp://h/f", "not a url at all"}
	if !slices.Equal(urls, want) {
		t.Fatalf("urls %q, want %q", urls, want)
	}
	// Each job has its own maps and pointers.
	jobs[0].Headers["X-Token"] = "changed"
	jobs[0].Timeout.Read = time.Hour
	jobs[0].Meta[1] = 'b'
	if jobs[1].Headers["X-Token"] != "t" || tmpl.Headers["X-Token"] != "t" || jobs[1].Timeout.Read != 3*time.Second ||
		tmpl.Timeout.Read != 3*time.Second || string(tmpl.Meta) != `{"a":1}` {
		t.Fatal("jobs share the template's maps or pointers")
	}
}

func TestReadURLsLineTooLong(t *testing.T) {
	in := "http://h/1\nhttp://h/" + strings.Repeat("x", 50) + "\nhttp://h/3\n"
	checkItems(t, collect(t, ReadURLs(strings.NewReader(in), tasks.Job{}, 20)),
		[]item{{url: "http://h/1"}, {line: 2, err: ErrLineTooLong}, {url: "http://h/3"}})
}

// TestCloneJob fills every field of a Job, and checks that the clone shares
// nothing with it. It fails when Job gains a field, which cloneJob must
// then copy.
func TestCloneJob(t *testing.T) {
	text := "a=1"
	yes := true
	j := tasks.Job{ID: "i", Method: "PUT", URL: "http://h/",
		Params:  &tasks.Pairs{List: []tasks.Pair{{Key: "k", Value: "v"}}},
		Headers: map[string]string{"H": "v"}, RemoveHeaders: []string{"R"},
		Data: &tasks.Pairs{Text: &text},
		JSON: []byte(`[1]`), Cookies: map[string]string{"c": "v"},
		Auth:    &tasks.Auth{User: "u", Password: "p"},
		Timeout: &tasks.Timeout{Read: time.Second}, AllowRedirects: &yes, Meta: []byte(`{}`),
		Retries: &tasks.Retry{Total: tasks.Count{N: 3, Set: true}, StatusForcelist: []int{503}}}
	rt := reflect.TypeOf(j)
	for i := range rt.NumField() {
		if !rt.Field(i).IsExported() { // the kept form: never changed, shared
			continue
		}
		if reflect.ValueOf(j).Field(i).IsZero() {
			t.Fatalf("test does not fill Job.%s: update it and cloneJob", rt.Field(i).Name)
		}
	}
	c := cloneJob(j)
	if !reflect.DeepEqual(c, j) {
		t.Fatalf("clone %+v differs from %+v", c, j)
	}
	c.Params.List[0].Value = "x"
	c.Headers["H"] = "x"
	c.RemoveHeaders[0] = "x"
	*c.Data.Text = "x"
	c.JSON[0] = '{'
	c.Cookies["c"] = "x"
	c.Auth.User = "x"
	c.Timeout.Read = 0
	*c.AllowRedirects = false
	c.Meta[0] = '['
	c.Retries.StatusForcelist[0] = 500
	if j.Retries.StatusForcelist[0] != 503 {
		t.Fatalf("clone shares the retry policy: %+v", j.Retries)
	}
	if j.Params.List[0].Value != "v" || j.Headers["H"] != "v" || j.RemoveHeaders[0] != "R" || *j.Data.Text != "a=1" || string(j.JSON) != "[1]" ||
		j.Cookies["c"] != "v" || j.Auth.User != "u" || j.Timeout.Read != time.Second || !*j.AllowRedirects || string(j.Meta) != "{}" {
		t.Fatalf("clone shares memory with the original: %+v", j)
	}
}

func TestFromURLs(t *testing.T) {
	checkItems(t, collect(t, FromURLs([]string{"http://h/1", "ftp://h/2"})),
		[]item{{url: "http://h/1"}, {url: "ftp://h/2"}})
}

func TestFromExceptions(t *testing.T) {
	excs := []tasks.Exception{
		{ID: "a", Batch: "b1", Request: tasks.Job{ID: "a", Method: "GET", URL: "http://h/a"}},
		{ID: "bad", Batch: "b1"}, // InvalidJob: no request
		{ID: "c", Batch: "b1", Request: tasks.Job{Method: "POST", URL: "http://h/c"}},
	}
	var ids []string
	var errs []error
	for job, err := range FromExceptions(slices.Values(excs)) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, job.ID+" "+job.Method+" "+job.URL)
	}
	if want := []string{"a GET http://h/a", "c POST http://h/c"}; !slices.Equal(ids, want) {
		t.Errorf("jobs %q, want %q", ids, want)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoRequest) {
		t.Errorf("errors %v, want one ErrNoRequest", errs)
	}
}
