// Command hostile is a hostile HTTP target for measuring a worker's memory
// (see README, "Caps"); it is not part of reqfleet. It listens on
// 127.0.0.1 only and exits after -for.
//
//	/ce?n=N                      a small gzip body under "Content-Encoding: gzip,gzip,..." (N links)
//	/redir?hop=I&size=S&lines=L  redirects to hop I+1 until hop 30, each with L headers of S bytes
//	/cookies?job=J&n=N&size=S    sets N cookies (default 1000) of S bytes (default 1000)
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	life := flag.Duration("for", 10*time.Minute, "exit after this long")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-addr %q: want a loopback address", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("http://" + ln.Addr().String()) // the base URL, for the job file
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte("hostile"))
	_ = w.Close()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			return
		}
		q := r.URL.Query()
		num := func(k string, def int) int {
			if n, err := strconv.Atoi(q.Get(k)); err == nil && n >= 0 && n <= 20_000_000 {
				return n
			}
			return def
		}
		switch r.URL.Path {
		case "/ce":
			w.Header().Set("Content-Encoding", strings.TrimSuffix(strings.Repeat("gzip,", num("n", 1)), ","))
			_, _ = w.Write(gz.Bytes())
		case "/redir":
			hop, size := num("hop", 0), num("size", 0)
			for i := range min(num("lines", 0), 100) {
				w.Header().Set("X-Big-"+strconv.Itoa(i), strings.Repeat("h", size))
			}
			if hop >= 30 {
				_, _ = w.Write([]byte("done"))
				return
			}
			q.Set("hop", strconv.Itoa(hop+1))
			http.Redirect(w, r, "/redir?"+q.Encode(), http.StatusFound)
		case "/cookies":
			value := strings.Repeat("c", num("size", 1000))
			job := q.Get("job")
			for i := range min(num("n", 1000), 10_000) {
				w.Header().Add("Set-Cookie", "j"+job+"n"+strconv.Itoa(i)+"="+value+"; Path=/")
			}
		default:
			http.NotFound(w, r)
		}
	})}
	ctx, cancel := context.WithTimeout(context.Background(), *life)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Print(err)
		os.Exit(1)
	}
}
