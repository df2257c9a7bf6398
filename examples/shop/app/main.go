// Command shop is the example app of examples/shop: a compose app that does
// not follow the demo's contract. One static binary, three roles:
//
//	shop web      HTTP on :8080: GET / answers "shop@VERSION schema=N",
//	              GET /healthz 200 once the db answers (HEALTH_STATUS
//	              overrides the status: a broken release); no HEALTHCHECK
//	shop worker   no port: counts a tick in the db every second
//	shop migrate  sets the db's schema key to SCHEMA (MIGRATE_EXIT=N exits
//	              N instead: a failing migration)
//
// The db is redis (REDIS_ADDR), spoken to in RESP over TCP.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	role := "web"
	if len(os.Args) > 1 {
		role = os.Args[1]
	}
	switch role {
	case "web":
		web()
	case "worker":
		worker()
	case "migrate":
		migrate()
	default:
		fmt.Fprintln(os.Stderr, "usage: shop web|worker|migrate")
		os.Exit(2)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// redis sends one command and returns its reply line.
func redis(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", env("REDIS_ADDR", "db:6379"), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c, "$%d\r\n%s\r\n", len(a), a)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$-1"):
		return "", nil
	case strings.HasPrefix(line, "$"):
		v, err := r.ReadString('\n')
		return strings.TrimRight(v, "\r\n"), err
	}
	return strings.TrimLeft(line, "+:"), nil
}

func web() {
	version := env("SHOP_VERSION", "dev")
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if s := os.Getenv("HEALTH_STATUS"); s != "" {
			code, _ := strconv.Atoi(s)
			w.WriteHeader(code)
			return
		}
		if _, err := redis("PING"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		schema, _ := redis("GET", "schema")
		fmt.Fprintf(w, "shop@%s schema=%s greeting=%s\n", version, schema, env("GREETING", "-"))
	})
	srv := &http.Server{Addr: ":8080", Handler: mux}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func worker() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	t := time.NewTicker(time.Second)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_, _ = redis("INCR", "ticks")
		}
	}
}

func migrate() {
	if s := os.Getenv("MIGRATE_EXIT"); s != "" {
		code, _ := strconv.Atoi(s)
		fmt.Println("migration failed on purpose")
		os.Exit(code)
	}
	schema := env("SCHEMA", "1")
	var err error
	for i := 0; i < 20; i++ {
		if _, err = redis("SET", "schema", schema); err == nil {
			fmt.Println("schema is now", schema)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Println("migration:", err)
	os.Exit(1)
}
