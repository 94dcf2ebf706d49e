package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/server"
	"github.com/reqfleet/reqfleet/tasks"
)

// apiTokenEnv names the variable that holds serve's bearer token.
const apiTokenEnv = "REQFLEET_API_TOKEN"

// apiRetryFor is serve's default --redis-retry-for for enqueue calls.
const apiRetryFor = 10 * time.Second

func (a *app) runServe(ctx context.Context, args []string) error {
	fs := a.newFlags("serve", "[flags]")
	c := common{redisWait: durationFlag(30 * time.Second)} // as docker compose starts Redis and serve together
	a.commonFlagsLevel(fs, &c, ": redis://, rediss:// (TLS) or redis-sentinel:// (default $REQFLEET_REDIS, else "+defaultRedis+")", "info")
	addr := fs.String("addr", "127.0.0.1:8080", use("addr"))
	queues := fs.String("queues", "", use("queues", ": the API enqueues to them (?queue=; the first by default) and /metrics reports them; priorities as in worker --queues are ignored (default: --queue)"))
	maxBody := sizeFlag(server.DefaultMaxBody)
	fs.Var(&maxBody, "max-request-body", use("max-request-body", "; 413 beyond"))
	maxIDs := fs.Int("max-ids", server.DefaultMaxIDs, use("max-ids", " (ids_truncated beyond)"))
	allowPrivate := fs.Bool("allow-private-urls", false, use("allow-private-urls"))
	noUI := fs.Bool("no-ui", false, use("no-ui"))
	uiReadOnly := fs.Bool("ui-readonly", false, use("ui-readonly"))
	grace := durationFlag(10 * time.Second)
	fs.Var(&grace, "shutdown-timeout", use("shutdown-timeout", ": the requests in flight"))
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if err := c.check(fs); err != nil {
		return err
	}
	qs, err := queueList(*queues, c.queue)
	if err != nil {
		return usageErr(fs, "--queues: %v", err)
	}
	if *maxIDs < 0 {
		return usageErr(fs, "--max-ids must not be negative")
	}
	log := a.logger(&c)
	rdb, err := c.open(ctx, 64, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var ui asynq.RedisConnOpt
	if !*noUI {
		if ui, err = c.connOpt(16); err != nil {
			return err
		}
	}
	// An API client should get a 503 it can retry rather than wait out
	// Redis for minutes: unless --redis-retry-for is given, enqueue calls
	// are retried for apiRetryFor at most.
	retryFor := c.retryFor()
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "redis-retry-for" })
	if !given && retryFor > apiRetryFor {
		retryFor = apiRetryFor
	}
	token := a.getenv(apiTokenEnv)
	srv, err := server.New(server.Config{
		Redis: rdb, Queues: qs, Token: token, UI: ui, UIReadOnly: *uiReadOnly,
		MaxBody: int64(maxBody), MaxIDs: *maxIDs, AllowPrivate: *allowPrivate,
		Enqueuer: enqueuer.Config{RedisRetryFor: retryFor, Logger: log},
		Logger:   log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	url := "http://" + ln.Addr().String()
	log.Info("serving", "url", url, "queues", qs, "ui", !*noUI, "token", token != "")
	if token == "" && !isLoopback(ln.Addr()) {
		log.Warn("no " + apiTokenEnv + ": the API and the UI are open to anyone who reaches " + ln.Addr().String())
	}
	fmt.Fprintln(a.stdout, url)
	return server.Serve(ctx, ln, srv.Handler(), time.Duration(grace), log)
}

// queueList reads "a,b,c" (priorities, as in worker --queues, are
// allowed and ignored), keeping the order; empty is [fallback].
func queueList(s, fallback string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{fallback}, nil
	}
	var out []string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), ":")
		if err := tasks.ValidateQueue(name); err != nil {
			return nil, err
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
