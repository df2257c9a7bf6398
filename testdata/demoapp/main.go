// Command demoapp is the tiny web application zdplay deploys in its demo and
// end-to-end tests. It is built into FROM-scratch images by
// testdata/images/build.sh (standard library only, CGO_ENABLED=0).
//
// Behaviour:
//
//	GET /       200 "app@VERSION from HOSTNAME (hits N)", N being a redis
//	            counter (INCR hits); "(hits ?)" when redis is unreachable.
//	GET /ping   200 "pong" when ready, 503 otherwise.
//	-healthcheck  probe http://127.0.0.1:PORT/ping (2s timeout), exit 0 on 200
//	            (for an exec-form Docker HEALTHCHECK in a scratch image).
//
// Environment (all optional):
//
//	APP_VERSION      version reported by GET / (default "dev")
//	PORT             listen port (default 3000)
//	REDIS_ADDR       redis address (default db:6379)
//	BOOT_DELAY       Go duration slept before listening
//	REQUEST_DELAY    Go duration slept inside every GET / handler
//	PING_STATUS      HTTP status GET /ping always answers (e.g. 500)
//	EXIT_AFTER       exit with code 1 this long after start
//	UNHEALTHY_AFTER  once /ping has answered 200, answer 500 this long later
//	FAIL_FIRST_BOOTS the first N containers of this version to boot (counted
//	                 in redis, INCR boots:VERSION) answer /ping with 500: a
//	                 failure on some replicas only
//
// SIGTERM/SIGINT shut the server down gracefully (in-flight requests finish,
// up to 10s) and exit 0. Every lifecycle event logs one line to stderr.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const shutdownTimeout = 10 * time.Second

func main() {
	healthcheck := flag.Bool("healthcheck", false, "probe GET /ping on 127.0.0.1 and exit 0 when it answers 200")
	flag.Parse()

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("demoapp: ")
	log.SetOutput(os.Stderr)

	port := envOr("PORT", "3000")
	if *healthcheck {
		os.Exit(probe(port))
	}
	os.Exit(run(port))
}

// probe is the -healthcheck mode.
func probe(port string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/ping")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: /ping answered", resp.Status)
		return 1
	}
	return 0
}

type config struct {
	version        string
	redisAddr      string
	bootDelay      time.Duration
	requestDelay   time.Duration
	pingStatus     int
	exitAfter      time.Duration
	unhealthyAfter time.Duration
	failFirstBoots int64
}

func loadConfig() (config, error) {
	c := config{
		version:   envOr("APP_VERSION", "dev"),
		redisAddr: envOr("REDIS_ADDR", "db:6379"),
	}
	var err error
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"BOOT_DELAY", &c.bootDelay},
		{"REQUEST_DELAY", &c.requestDelay},
		{"EXIT_AFTER", &c.exitAfter},
		{"UNHEALTHY_AFTER", &c.unhealthyAfter},
	} {
		if v := os.Getenv(d.name); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %v", d.name, err)
			}
		}
	}
	if v := os.Getenv("FAIL_FIRST_BOOTS"); v != "" {
		if c.failFirstBoots, err = strconv.ParseInt(v, 10, 64); err != nil || c.failFirstBoots < 0 {
			return c, fmt.Errorf("FAIL_FIRST_BOOTS: invalid count %q", v)
		}
	}
	if v := os.Getenv("PING_STATUS"); v != "" {
		if c.pingStatus, err = strconv.Atoi(v); err != nil || c.pingStatus < 100 || c.pingStatus > 999 {
			return c, fmt.Errorf("PING_STATUS: invalid HTTP status %q", v)
		}
	}
	return c, nil
}

func run(port string) int {
	start := time.Now()
	cfg, err := loadConfig()
	if err != nil {
		log.Printf("bad configuration: %v", err)
		return 2
	}
	host, _ := os.Hostname()
	log.Printf("starting app@%s on %s (pid %d, port %s, redis %s)", cfg.version, host, os.Getpid(), port, cfg.redisAddr)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	if cfg.exitAfter > 0 {
		log.Printf("EXIT_AFTER=%s: will exit with code 1", cfg.exitAfter)
		time.AfterFunc(cfg.exitAfter-time.Since(start), func() {
			log.Printf("EXIT_AFTER elapsed: exiting with code 1")
			os.Exit(1)
		})
	}

	if cfg.bootDelay > 0 {
		log.Printf("BOOT_DELAY=%s: sleeping before listening", cfg.bootDelay)
		select {
		case <-time.After(cfg.bootDelay):
		case s := <-sigs:
			log.Printf("received %s while booting: exiting", s)
			return 0
		}
	}

	a := &app{cfg: cfg, host: host, redis: newRedisPool(cfg.redisAddr, 4)}
	defer a.redis.close()
	if cfg.failFirstBoots > 0 {
		n, err := a.redis.incr("boots:" + cfg.version)
		if err != nil || n <= cfg.failFirstBoots {
			a.failing = true
		}
		log.Printf("FAIL_FIRST_BOOTS=%d: boot %d of this version (%v): /ping answers 500: %v", cfg.failFirstBoots, n, err, a.failing)
	}

	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Printf("listen: %v", err)
		return 1
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	a.ready.Store(true)
	log.Printf("listening on %s (ready after %s)", ln.Addr(), time.Since(start).Round(time.Millisecond))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		log.Printf("serve: %v", err)
		return 1
	case s := <-sigs:
		a.ready.Store(false)
		log.Printf("received %s: shutting down gracefully (up to %s)", s, shutdownTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown incomplete: %v", err)
		srv.Close()
	} else {
		log.Printf("shutdown complete: all in-flight requests finished")
	}
	log.Printf("exiting with code 0")
	return 0
}

type app struct {
	cfg   config
	host  string
	redis *redisPool
	ready atomic.Bool

	failing     bool // FAIL_FIRST_BOOTS: /ping answers 500
	firstPingOK sync.Once
	sickAt      atomic.Int64 // UnixNano after which /ping answers 500; 0 = never
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", a.ping)
	mux.HandleFunc("/", a.index)
	return mux
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if a.cfg.requestDelay > 0 {
		time.Sleep(a.cfg.requestDelay)
	}
	hits := "?"
	if n, err := a.redis.incr("hits"); err == nil {
		hits = strconv.FormatInt(n, 10)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "app@%s from %s (hits %s)\n", a.cfg.version, a.host, hits)
}

func (a *app) ping(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	switch {
	case a.cfg.pingStatus != 0:
		status = a.cfg.pingStatus
	case a.failing:
		status = http.StatusInternalServerError
	case !a.ready.Load():
		status = http.StatusServiceUnavailable
	case a.cfg.unhealthyAfter > 0:
		a.firstPingOK.Do(func() {
			a.sickAt.Store(time.Now().Add(a.cfg.unhealthyAfter).UnixNano())
			log.Printf("UNHEALTHY_AFTER=%s: first /ping answered 200, /ping will answer 500 in %s", a.cfg.unhealthyAfter, a.cfg.unhealthyAfter)
			time.AfterFunc(a.cfg.unhealthyAfter, func() { log.Printf("UNHEALTHY_AFTER elapsed: /ping now answers 500") })
		})
		if time.Now().UnixNano() >= a.sickAt.Load() {
			status = http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	if status == http.StatusOK {
		fmt.Fprintln(w, "pong")
	} else {
		fmt.Fprintln(w, http.StatusText(status))
	}
}

// redisPool is a minimal RESP client: a few persistent connections, a broken
// one is dropped and redialled. After a failed dial it does not redial for a
// short while, so an unreachable redis does not slow every request down.
type redisPool struct {
	addr  string
	idle  chan *redisConn
	mu    sync.Mutex
	until time.Time // no dial before this instant (after a dial failure)
}

type redisConn struct {
	c net.Conn
	r *bufio.Reader
}

const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = time.Second
	redisBackoff     = time.Second
)

func newRedisPool(addr string, size int) *redisPool {
	return &redisPool{addr: addr, idle: make(chan *redisConn, size)}
}

func (p *redisPool) get() (*redisConn, bool, error) {
	select {
	case rc := <-p.idle:
		return rc, true, nil
	default:
	}
	p.mu.Lock()
	wait := time.Until(p.until)
	p.mu.Unlock()
	if wait > 0 {
		return nil, false, errors.New("redis: backing off after a failed dial")
	}
	c, err := net.DialTimeout("tcp", p.addr, redisDialTimeout)
	if err != nil {
		p.mu.Lock()
		p.until = time.Now().Add(redisBackoff)
		p.mu.Unlock()
		return nil, false, err
	}
	return &redisConn{c: c, r: bufio.NewReader(c)}, false, nil
}

func (p *redisPool) put(rc *redisConn) {
	select {
	case p.idle <- rc:
	default:
		rc.c.Close()
	}
}

func (p *redisPool) close() {
	for {
		select {
		case rc := <-p.idle:
			rc.c.Close()
		default:
			return
		}
	}
}

// incr runs INCR key. A pooled connection may have gone stale (redis was
// restarted), so a failure on one is retried once on a fresh connection.
func (p *redisPool) incr(key string) (int64, error) {
	for attempt := 0; ; attempt++ {
		rc, pooled, err := p.get()
		if err != nil {
			return 0, err
		}
		n, err := rc.do("INCR", key)
		if err == nil {
			p.put(rc)
			return n, nil
		}
		rc.c.Close()
		var re redisError
		if errors.As(err, &re) || !pooled || attempt > 0 {
			return 0, err
		}
	}
}

type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// do sends one command and reads an integer reply.
func (rc *redisConn) do(args ...string) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.c.SetDeadline(time.Now().Add(redisIOTimeout))
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return 0, errors.New("redis: empty reply")
	}
	switch line[0] {
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '-':
		return 0, redisError(line[1:])
	default:
		// Not an integer reply: the connection state is unknown, drop it.
		return 0, fmt.Errorf("redis: unexpected reply %q", line)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
