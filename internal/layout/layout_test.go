package layout

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rdbDir is the Redis package, the one place for asynq's keys and for
// redis.NewScript.
const rdbDir = "internal/rdb"

// allowed are places outside internal/rdb that may name asynq's keys or
// make scripts, "file: what" -> how many: what is redis.NewScript or the
// literal, quoted. A count that does not match fails the test both ways, so
// the list stays exact. It is empty: internal/rdb owns them all.
var allowed = map[string]int{}

// notKeys are literals that start with "asynq:" and name no key, for good.
var notKeys = map[string]bool{
	`worker/archive.go: "asynq:"`:             true, // the outcome id of a task with no job id: "asynq:" + task id
	`worker/archive_test.go: "asynq:garbage"`: true, // such an id
}

// finding is one use of asynq's keys or of redis.NewScript.
type finding struct {
	pos  token.Position // Filename relative to the root, with slashes
	what string         // redis.NewScript, or the literal, quoted
}

func (f finding) key() string { return f.pos.Filename + ": " + f.what }

// isKey reports whether a string literal's value names an asynq key: it
// starts with "asynq:" (but not "asynq: ", asynq's error messages), or
// holds a queue's key ("asynq:{") anywhere, as a script or a format would.
func isKey(s string) bool {
	return strings.HasPrefix(s, "asynq:") && !strings.HasPrefix(s, "asynq: ") || strings.Contains(s, "asynq:{")
}

// scan returns the findings in the .go files under root (tests included),
// outside internal/rdb and this package. It skips what the go tool skips:
// testdata, vendor, and directories starting with . or _.
func scan(root string) ([]finding, error) {
	var out []finding
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) ||
				rel == rdbDir || rel == "internal/layout" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		found, err := scanFile(p, rel)
		out = append(out, found...)
		return err
	})
	return out, err
}

func scanFile(p, rel string) ([]finding, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	goredis := "" // go-redis' name in this file
	for _, imp := range f.Imports {
		if ip, _ := strconv.Unquote(imp.Path.Value); ip == "github.com/redis/go-redis/v9" {
			goredis = "redis"
			if imp.Name != nil {
				goredis = imp.Name.Name
			}
		}
	}
	var out []finding
	add := func(n ast.Node, what string) {
		pos := fset.Position(n.Pos())
		pos.Filename = rel
		out = append(out, finding{pos: pos, what: what})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ImportSpec:
			return false
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if s, err := strconv.Unquote(n.Value); err == nil && isKey(s) {
					add(n, strconv.Quote(s))
				}
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewScript" {
				if x, ok := sel.X.(*ast.Ident); ok && goredis != "" && x.Name == goredis {
					add(n, "redis.NewScript")
				}
			}
		}
		return true
	})
	return out, nil
}

// check compares findings with the allowlist, one message a problem.
func check(found []finding, allowed map[string]int, notKeys map[string]bool) []string {
	byKey := map[string][]finding{}
	for _, f := range found {
		if !notKeys[f.key()] {
			byKey[f.key()] = append(byKey[f.key()], f)
		}
	}
	var msgs []string
	for k, fs := range byKey {
		if n := allowed[k]; len(fs) > n {
			for _, f := range fs {
				msgs = append(msgs, fmt.Sprintf("%s: %s outside %s (%d such in this file, %d allowed): move it into %s", f.pos, f.what, rdbDir, len(fs), n, rdbDir))
			}
		}
	}
	for k, n := range allowed {
		if got := len(byKey[k]); got < n {
			msgs = append(msgs, fmt.Sprintf("allowlist: %q allows %d, found %d: lower it (delete it at 0)", k, n, got))
		}
	}
	slices.SortFunc(msgs, strings.Compare)
	return msgs
}

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// TestRedisContractInRDB: asynq's keys and the project's scripts live in
// internal/rdb only (README's Layout; issue 9).
func TestRedisContractInRDB(t *testing.T) {
	found, err := scan(root(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range check(found, allowed, notKeys) {
		t.Error(m)
	}
}

// TestCheckFindsStrays: the check catches a stray key literal and a stray
// script, leaves internal/rdb alone, and reports a stale allowlist entry.
func TestCheckFindsStrays(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := `package x

import goredis "github.com/redis/go-redis/v9"

var pending = "asynq:{" + "default" + "}:pending"
var servers = "asynq:servers"
var lua = goredis.NewScript("return redis.call('LLEN', 'asynq:{q}:pending')")
var msg = "asynq: task lease expired"
`
	write("worker/x.go", src)
	write(rdbDir+"/x.go", src)
	write("testdata/x.go", src)
	found, err := scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, fmt.Sprintf("%s:%d %s", f.pos.Filename, f.pos.Line, f.what))
	}
	want := []string{
		`worker/x.go:5 "asynq:{"`,
		`worker/x.go:6 "asynq:servers"`,
		`worker/x.go:7 redis.NewScript`,
		`worker/x.go:7 "return redis.call('LLEN', 'asynq:{q}:pending')"`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	msgs := check(found, map[string]int{`worker/x.go: redis.NewScript`: 1, `worker/y.go: "asynq:queues"`: 1}, nil)
	if len(msgs) != 4 || !strings.Contains(msgs[0], "allowlist") {
		t.Errorf("messages:\n%s", strings.Join(msgs, "\n"))
	}
}

// TestNoDetachedDocComments: a comment that starts with a top-level
// declaration's name and ends one blank line above it, leaving it
// undocumented, was meant as its doc comment.
func TestNoDetachedDocComments(t *testing.T) {
	r := root(t)
	err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if path.Ext(rel) != ".go" {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, m := range detached(fset, f) {
			t.Errorf("%s:%s", rel, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// detached returns "LINE: comment detached from NAME" for each top-level
// declaration whose would-be doc comment ends one blank line above it.
func detached(fset *token.FileSet, f *ast.File) []string {
	var out []string
	line := func(p token.Pos) int { return fset.Position(p).Line }
	for _, d := range f.Decls {
		var doc *ast.CommentGroup
		var names []string
		switch d := d.(type) {
		case *ast.FuncDecl:
			doc, names = d.Doc, []string{d.Name.Name}
		case *ast.GenDecl:
			doc = d.Doc
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names = append(names, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names = append(names, n.Name)
					}
				}
			}
		}
		if doc != nil {
			continue
		}
		at := line(d.Pos())
		i, _ := slices.BinarySearchFunc(f.Comments, d.Pos(), func(c *ast.CommentGroup, p token.Pos) int { return cmp.Compare(c.Pos(), p) })
		if i == 0 {
			continue
		}
		c := f.Comments[i-1]
		if line(c.End()) != at-2 {
			continue
		}
		text := c.Text()
		for _, n := range names {
			if strings.HasPrefix(text, n+" ") {
				out = append(out, fmt.Sprintf("%d: comment detached from %s by a blank line", line(c.Pos()), n))
			}
		}
	}
	return out
}
