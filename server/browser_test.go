package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/reqfleet/reqfleet/internal/testkit"
)

// chromium finds a headless Chromium: Debian's chromium (.ci/run installs
// it), or another Chrome on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH under CI: .ci/run installs Debian's chromium")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); under CI (CI set) it fails")
	return ""
}

// artifacts is where the test's screenshots go: $REQFLEET_ARTIFACTS, else
// the test's temporary directory (never the repository).
func artifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("REQFLEET_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestDashboardInBrowser drives the dashboard in headless Chromium: a
// batch of 200s, a 404 and dropped connections (ConnectionError) run by a
// worker; the page shows its progress; its exceptions open with their
// messages; Retry (the target answers now) sends them back, the
// exceptions list empties and the results hold them. The page is never
// reloaded: what changes comes by its polling.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("drives a browser")
	}
	exe := chromium(t)
	const token = "browser-token"
	e := setup(t, func(c *Config) { c.Token = token })
	tg := newFlaky(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1200), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first call starts the browser: no timeout on it (it would end the
	// browser), but on each step after.
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	step := func(name string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(ctx, a); err != nil {
			shot(t, bctx, "failed-"+name)
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(expr string) (string, error) {
		ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	}
	// waitFor waits, boundedly, for a JavaScript expression to give want.
	waitFor := func(what, expr, want string) {
		t.Helper()
		testkit.WaitUntil(t, 30*time.Second, func() error {
			got, err := eval(expr)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s: %q", what, got)
			}
			return nil
		}, what)
	}

	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Bearer " + token}}); err != nil {
		t.Fatal(err)
	}
	step("load", chromedp.Navigate(e.api.URL+"/"))
	waitFor("the page live", `document.getElementById("live").className`, "live")

	// A batch enqueued after the page loaded, then the worker.
	var jobs []string
	for i := range 3 {
		jobs = append(jobs, fmt.Sprintf(`{"url": %q, "id": "ok%d"}`, tg.URL+"/ok", i))
	}
	jobs = append(jobs, fmt.Sprintf(`{"url": %q, "id": "nf"}`, tg.URL+"/404"))
	for i := range 3 {
		jobs = append(jobs, fmt.Sprintf(`{"url": %q, "id": "fail%d"}`, tg.URL+"/fail", i))
	}
	batch := e.postBatch(t, "default", jobs...)
	row := `#batches tr[data-batch="` + batch + `"]`
	waitFor("the batch listed, waiting", `(document.querySelector('`+row+` .progress') || {}).textContent || ""`, "0/7")
	e.startWorker(t)
	waitFor("the batch's progress", `document.querySelector('`+row+` .progress').textContent`, "7/7 done")
	waitFor("its exceptions by type", `document.querySelector('`+row+` .chip.exc[data-key="ConnectionError"]').textContent`, "ConnectionError: 3")
	waitFor("the workers panel", `document.querySelector('#workers tr[data-worker] .done').textContent`, "7")
	waitFor("the hosts panel", `String(document.querySelectorAll('#hosts tbody tr').length)`, "1")
	waitFor("no host limits", `document.getElementById("limits").textContent`, "no limits")
	shot(t, bctx, "batch")

	// Its exceptions, with their messages.
	step("open the exceptions", chromedp.Click(chromedp.CSS(row+` .chip.exc[data-key="ConnectionError"]`)))
	waitFor("the exceptions listed", `String(document.querySelectorAll('#outcomes tr.outcome').length)`, "3")
	msg, err := eval(`document.querySelector('#outcomes tr.outcome .msg').textContent`)
	if err != nil || msg == "" {
		t.Fatalf("exception message %q, %v", msg, err)
	}
	if typ, _ := eval(`document.querySelector('#outcomes tr.outcome .type').textContent`); typ != "ConnectionError" {
		t.Fatalf("exception type %q", typ)
	}
	shot(t, bctx, "exceptions")

	// Retry them: the target answers now.
	tg.failing.Store(false)
	step("retry", chromedp.Click(chromedp.ID("retry-type")))
	waitFor("the retry's answer", `document.getElementById("retry-result").textContent`, "retried 3")
	waitFor("the exceptions moved back", `String(document.querySelectorAll('#outcomes tr.outcome').length)`, "0")
	waitFor("the batch done again", `document.querySelector('`+row+` .progress').textContent`, "7/7 done")
	waitFor("no exception left", `String(document.querySelectorAll('`+row+` .chip.exc').length)`, "0")
	waitFor("its responses", `Array.from(document.querySelectorAll('`+row+` .chip')).map(c => c.textContent).sort().join(",")`, "200: 6,404: 1")

	// The results hold them.
	step("open the results", chromedp.Click(chromedp.CSS(row+` button.show-results`)))
	waitFor("the results listed", `String(document.querySelectorAll('#outcomes tr.outcome').length)`, "7")
	got, err := eval(`Array.from(document.querySelectorAll('#outcomes tr.outcome')).filter(r => r.dataset.id.startsWith("fail")).map(r => r.dataset.id + " " + r.querySelector(".status").textContent).sort().join(",")`)
	if err != nil || got != "fail0 200 OK,fail1 200 OK,fail2 200 OK" {
		t.Fatalf("retried jobs in the results: %q, %v", got, err)
	}
	// Lookup by job id.
	step("look up", chromedp.Steps(chromedp.SetValue(chromedp.ID("lookup-id"), "fail1"), chromedp.Click(chromedp.CSS(`#lookup-form button`))))
	waitFor("the lookup", `String(document.getElementById("lookup-result").textContent.includes('"attempt": 2'))`, "true")
	shot(t, bctx, "results")
	if strings.Contains(e.logs.String(), token) {
		t.Error("the token is in the logs")
	}
}

// shot saves a full-page screenshot (bounded to 10s), logging its path.
func shot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(artifacts(t), "dashboard-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}
