package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/atomicfile"
	"github.com/zdplay/zdplay/internal/haproxy"
)

// Haproxy drives an HAProxy in master-worker mode whose configuration
// (Dir/haproxy.cfg, mounted at /etc/haproxy) names no replica: its backend
// has server-template slots, which are set over the runtime API (the admin
// socket Dir/run/admin.sock, mounted at /run/haproxy) without any reload:
//
//   - each replica keeps its slot from one run to the next (the name -> slot
//     map is kept in run/zdplay-slots.json); a replica new to the backend
//     takes a free slot, preferably one nobody held;
//   - a replica that is not down gets its address, then `state ready`, and
//     the call waits until HAProxy sees it up (its active check passes);
//   - a replica that is down goes `drain` (no new request), then `maint`
//     once its current sessions are 0, waited for up to DrainTimeout;
//   - a slot whose replica is no longer listed goes to maint and is freed.
//
// Replicas are put in before others are taken out. After a change the
// servers' state is written to run/servers.state, which haproxy.cfg loads,
// so a restarted proxy serves the same replicas at once. haproxy.cfg is
// reloaded (seamlessly: the listeners pass to the new worker) only when it
// changed.
type Haproxy struct {
	Common
	Dir     string // host directory: haproxy.cfg, run/
	Backend string // "app" when empty
	Port    int    // the replicas' port
	// DrainTimeout bounds the wait for a drained server's sessions to end;
	// UpTimeout the wait for a readied one's check to pass.
	DrainTimeout, UpTimeout time.Duration
	// Poll is how often the servers are read while waiting (50 ms when 0).
	Poll time.Duration
}

var _ Proxy = (*Haproxy)(nil)

// The paths under Dir, and where the container sees the configuration.
func (h *Haproxy) cfg() string       { return filepath.Join(h.Dir, "haproxy.cfg") }
func (h *Haproxy) socket() string    { return filepath.Join(h.Dir, "run", "admin.sock") }
func (h *Haproxy) master() string    { return filepath.Join(h.Dir, "run", "master.sock") }
func (h *Haproxy) slotsFile() string { return filepath.Join(h.Dir, "run", "zdplay-slots.json") }
func (h *Haproxy) stateFile() string { return filepath.Join(h.Dir, "run", "servers.state") }

const containerCfg = "/etc/haproxy/haproxy.cfg"

func (h *Haproxy) backend() string {
	if h.Backend == "" {
		return "app"
	}
	return h.Backend
}

func (h *Haproxy) poll() time.Duration {
	if h.Poll <= 0 {
		return 50 * time.Millisecond
	}
	return h.Poll
}

// Setup makes Dir/run, renders haproxy.cfg and, when a running HAProxy
// serves an older one, tests and reloads it.
func (h *Haproxy) Setup(ctx context.Context) (Step, error) {
	var msgs []string
	changed := false
	if run := filepath.Join(h.Dir, "run"); !isDir(run) {
		changed = true
		if h.Stage != nil {
			msgs = append(msgs, "would create "+run)
		} else if err := os.MkdirAll(run, 0o755); err != nil {
			return Step{}, fmt.Errorf("haproxy: %w", err)
		} else {
			msgs = append(msgs, "created "+run)
		}
	}
	r, err := render(&h.Common, h.cfg(), nil)
	if err != nil {
		return Step{}, fmt.Errorf("haproxy: rendering haproxy.cfg: %w", err)
	}
	if r.Changed {
		changed = true
		msgs = append(msgs, r.Msg)
	}
	var s Step
	if h.Stage != nil {
		if _, pending, _ := h.pending(h.cfg()); pending {
			s = Step{Changed: true, Msg: "would reload haproxy if its worker runs an older haproxy.cfg"}
		}
	} else if s, err = h.Reload(ctx, false); err != nil {
		return Step{Changed: changed}, err
	}
	if s.Msg != "" {
		msgs = append(msgs, s.Msg)
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "haproxy already serves haproxy.cfg")
	}
	return Step{Changed: changed || s.Changed, Msg: strings.Join(msgs, "; ")}, nil
}

// Render writes haproxy.cfg when its bytes differ (it names no replica:
// upstream is not used).
func (h *Haproxy) Render([]Server) (Step, error) {
	return render(&h.Common, h.cfg(), nil)
}

// Validate runs `haproxy -c` on the configuration in the proxy's
// container; a rejected one is replaced by the last good copy.
func (h *Haproxy) Validate(ctx context.Context) error {
	ctr, err := h.Container(ctx)
	if err != nil {
		return err
	}
	if ctr == nil {
		return errors.New("haproxy: the proxy's container is not running: bring it up first (compose_up)")
	}
	rc, stdout, stderr, err := ctr.Exec(ctx, "/usr/sbin/haproxy", "-c", "-q", "-f", containerCfg)
	if err != nil {
		return fmt.Errorf("haproxy -c in the proxy: %w", err)
	}
	if rc != 0 {
		return restoreGood("haproxy", h.cfg(), stderr+"\n"+stdout)
	}
	return nil
}

// Reload makes the running HAProxy serve haproxy.cfg when it differs from
// the last copy applied (haproxy.cfg.good): validated, then a seamless
// reload through the master CLI, with the servers' state saved first so
// the new worker keeps the slots. A proxy that is not running reads it when
// it starts, and one whose worker started after haproxy.cfg was written
// (with no good copy yet) already runs it: the copy is recorded without
// reloading. HAProxy 2.6's old
// worker does close its idle client keep-alive connections (a GET client
// retries, a POST may fail), which is why replicas never go through it.
func (h *Haproxy) Reload(ctx context.Context, _ bool) (Step, error) {
	data, changed, err := h.pending(h.cfg())
	if err != nil {
		return Step{}, fmt.Errorf("haproxy: reading haproxy.cfg: %w (render it first)", err)
	}
	if !changed {
		return Step{Msg: "haproxy already serves haproxy.cfg"}, nil
	}
	good := h.cfg() + GoodSuffix
	ctr, err := h.Container(ctx)
	if err != nil {
		return Step{}, err
	}
	if ctr == nil {
		// It reads this configuration when it starts (compose_up).
		if err := atomicfile.Write(good, data, 0o644); err != nil {
			return Step{}, fmt.Errorf("haproxy: %w", err)
		}
		return Step{Msg: "haproxy not running: it starts with haproxy.cfg"}, nil
	}
	if err := h.Validate(ctx); err != nil {
		return Step{}, err
	}
	if err := haproxy.Wait(ctx, h.master(), 5*time.Second); err != nil {
		return Step{}, fmt.Errorf("haproxy: %w: is the proxy running? run provision", err)
	}
	if err := haproxy.Wait(ctx, h.socket(), 5*time.Second); err != nil {
		return Step{}, fmt.Errorf("haproxy: %w: is the proxy running? run provision", err)
	}
	proc, err := (&haproxy.Client{Socket: h.master()}).Command(ctx, "show proc")
	if err != nil {
		return Step{}, fmt.Errorf("haproxy: %w: is the proxy running? run provision", err)
	}
	if _, err := os.Stat(good); errors.Is(err, os.ErrNotExist) {
		if st, err := os.Stat(h.cfg()); err == nil && workerYounger(proc, time.Since(st.ModTime())) {
			if err := atomicfile.Write(good, data, 0o644); err != nil {
				return Step{}, fmt.Errorf("haproxy: %w", err)
			}
			return Step{Msg: "haproxy started with haproxy.cfg: no reload"}, nil
		}
	}
	c := &haproxy.Client{Socket: h.socket()}
	if err := h.saveState(ctx, c); err != nil {
		return Step{}, err
	}
	start := time.Now()
	if err := haproxy.Reload(ctx, h.master()); err != nil {
		if prev, rerr := os.ReadFile(good); rerr == nil {
			_ = os.WriteFile(h.cfg(), prev, 0o644)
			return Step{}, fmt.Errorf("haproxy: %w; restored the last good haproxy.cfg from %s: fix the template or its variables and run again", err, good)
		}
		return Step{}, fmt.Errorf("haproxy: %w", err)
	}
	if err := atomicfile.Write(good, data, 0o644); err != nil {
		return Step{Changed: true}, fmt.Errorf("haproxy: reloaded, but saving %s failed: %w", good, err)
	}
	return Step{Changed: true, Msg: fmt.Sprintf("validated, reloaded haproxy with haproxy.cfg, servers' state kept (new worker after %s)", since(start))}, nil
}

// saveState writes `show servers state` where haproxy.cfg loads it from.
func (h *Haproxy) saveState(ctx context.Context, c *haproxy.Client) error {
	state, err := c.Command(ctx, "show servers state")
	if err == nil {
		err = atomicfile.Write(h.stateFile(), []byte(state), 0o644)
	}
	if err != nil {
		return fmt.Errorf("haproxy: saving the servers' state: %w", err)
	}
	return nil
}

// Drain sets the slots to match upstream: its servers that are not down in
// (waited for until up), then its down ones out (drain, then maint at 0
// sessions).
func (h *Haproxy) Drain(ctx context.Context, upstream []Server) (Step, error) {
	return h.apply(ctx, upstream)
}

// Undrain is Drain: the slots are set to match upstream, and a readied
// server is always waited for until up.
func (h *Haproxy) Undrain(ctx context.Context, upstream []Server, _ bool) (Step, error) {
	return h.apply(ctx, upstream)
}

// Plan reports the slot changes Drain or Undrain would make.
func (h *Haproxy) Plan(ctx context.Context, upstream []Server) (Step, error) {
	if _, err := os.Stat(h.socket()); errors.Is(err, os.ErrNotExist) {
		return Step{Changed: true, Msg: fmt.Sprintf("would set the slots of backend %s once haproxy runs (%s does not exist yet)", h.backend(), h.socket())}, nil
	}
	_, in, out, _, err := h.prepare(ctx, upstream)
	if err != nil {
		return Step{}, err
	}
	if len(in)+len(out) == 0 {
		return Step{Msg: fmt.Sprintf("backend %s already matches the upstream", h.backend())}, nil
	}
	return Step{Changed: true, Msg: "would set " + stepsString(append(in, out...))}, nil
}

// step is one change to one slot.
type step struct {
	replica, slot string
	addr          string // set this address first ("" = keep)
	state         string // ready, drain (then maint once idle) or maint
}

func (s step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", s.replica, s.slot)
	if s.addr != "" {
		fmt.Fprintf(&b, " at %s", s.addr)
	}
	switch s.state {
	case "ready":
		b.WriteString(" ready")
	case "drain":
		b.WriteString(" drained, maint")
	case "maint":
		b.WriteString(" maint")
	}
	return b.String()
}

func stepsString(steps []step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}

func (h *Haproxy) loadSlots() (map[string]string, error) {
	slots := map[string]string{}
	data, err := os.ReadFile(h.slotsFile())
	if errors.Is(err, os.ErrNotExist) {
		return slots, nil
	}
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	if err := json.Unmarshal(data, &slots); err != nil {
		return nil, fmt.Errorf("haproxy: %s: %w (remove it: the slots are then assigned again)", h.slotsFile(), err)
	}
	return slots, nil
}

// plan decides the steps from what HAProxy has and the upstream, and the
// name -> slot map to save.
func (h *Haproxy) plan(have []haproxy.Server, want []Server, slots map[string]string) (in, out []step, keep map[string]string, err error) {
	byName := map[string]haproxy.Server{}
	for _, s := range have {
		byName[s.Name] = s
	}
	keep = map[string]string{}
	used := map[string]bool{}
	listed := map[string]bool{}
	for _, w := range want {
		listed[w.Name] = true
		if slot, ok := slots[w.Name]; ok {
			if _, exists := byName[slot]; exists && !used[slot] {
				keep[w.Name], used[slot] = slot, true
			}
		}
	}
	recorded := map[string]bool{}
	for _, slot := range slots {
		recorded[slot] = true
	}
	for _, w := range want {
		if _, ok := keep[w.Name]; ok {
			continue
		}
		// A free slot: preferably one in maintenance that no replica held,
		// then any not taken (one held by a replica no longer listed).
		for pass := 0; pass < 2 && keep[w.Name] == ""; pass++ {
			for _, s := range have {
				if !used[s.Name] && (pass == 1 || (s.Maint() && !recorded[s.Name])) {
					keep[w.Name], used[s.Name] = s.Name, true
					break
				}
			}
		}
		if _, ok := keep[w.Name]; !ok {
			return nil, nil, nil, fmt.Errorf("haproxy: backend %s has %d slots, all in use: %s gets none; raise the slots variable (a reload of haproxy.cfg)", h.backend(), len(have), w.Name)
		}
	}
	for _, w := range want {
		slot := keep[w.Name]
		s := byName[slot]
		st := step{replica: w.Name, slot: slot}
		if s.Addr != w.Address || s.Port != h.Port {
			st.addr = w.Address
		}
		switch {
		case !w.Down && (!s.Ready() || st.addr != ""):
			st.state = "ready"
			in = append(in, st)
		case w.Down && !s.Maint():
			st.state = "drain"
			out = append(out, st)
		case st.addr != "":
			out = append(out, st) // down and in maint already: only its address
		}
	}
	// Slots of replicas no longer listed, and strays, to maint.
	for _, s := range have {
		if used[s.Name] || s.Maint() {
			continue
		}
		name := s.Name
		for r, slot := range slots {
			if slot == s.Name && !listed[r] {
				name = r
			}
		}
		out = append(out, step{replica: name, slot: s.Name, state: "maint"})
	}
	return in, out, keep, nil
}

func (h *Haproxy) prepare(ctx context.Context, want []Server) (*haproxy.Client, []step, []step, map[string]string, error) {
	c := &haproxy.Client{Socket: h.socket()}
	// A proxy just (re)started binds its socket a moment later.
	if err := haproxy.Wait(ctx, h.socket(), 5*time.Second); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("haproxy: %w: is the proxy running? run provision", err)
	}
	have, err := c.Servers(ctx, h.backend())
	if errors.Is(err, haproxy.ErrNoSocket) {
		return nil, nil, nil, nil, fmt.Errorf("haproxy: %w: is the proxy running? run provision", err)
	}
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("haproxy: %w", err)
	}
	if len(have) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("haproxy: backend %s has no server slots (is haproxy.cfg rendered with server-template?)", h.backend())
	}
	slots, err := h.loadSlots()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	in, out, keep, err := h.plan(have, want, slots)
	return c, in, out, keep, err
}

// apply puts servers in, then takes others out, then saves the slots and
// the servers' state.
func (h *Haproxy) apply(ctx context.Context, upstream []Server) (Step, error) {
	c, in, out, keep, err := h.prepare(ctx, upstream)
	if err != nil {
		return Step{}, err
	}
	b := h.backend()
	res := Step{}
	var msgs []string
	// Slots recorded first: a run killed midway finds them next time.
	data, _ := json.MarshalIndent(keep, "", "  ")
	if err := atomicfile.Write(h.slotsFile(), append(data, '\n'), 0o644); err != nil {
		return res, fmt.Errorf("haproxy: saving the slots: %w", err)
	}
	var readied []step
	for _, s := range in {
		if s.addr != "" {
			if err := c.SetState(ctx, b, s.slot, "maint"); err != nil {
				return res, fmt.Errorf("haproxy: %w", err)
			}
			if err := c.SetAddr(ctx, b, s.slot, s.addr, h.Port); err != nil {
				return res, fmt.Errorf("haproxy: %w", err)
			}
		}
		if err := c.SetState(ctx, b, s.slot, "ready"); err != nil {
			return res, fmt.Errorf("haproxy: %w", err)
		}
		res.Changed = true
		readied = append(readied, s)
	}
	if len(readied) > 0 {
		start := time.Now()
		upTimeout := h.UpTimeout
		if upTimeout <= 0 {
			upTimeout = 10 * time.Second
		}
		if _, err := h.wait(ctx, c, readied, upTimeout, "up", func(s haproxy.Server) bool { return s.Up() }); err != nil {
			return res, err
		}
		msgs = append(msgs, fmt.Sprintf("%s (up after %s)", stepsString(readied), since(start)))
	}
	var drained []step
	for _, s := range out {
		if s.addr != "" && s.state == "" {
			if err := c.SetAddr(ctx, b, s.slot, s.addr, h.Port); err != nil {
				return res, fmt.Errorf("haproxy: %w", err)
			}
			res.Changed = true
			msgs = append(msgs, s.String())
			continue
		}
		st := "maint"
		if s.state == "drain" {
			st = "drain"
			drained = append(drained, s)
		}
		if err := c.SetState(ctx, b, s.slot, st); err != nil {
			return res, fmt.Errorf("haproxy: %w", err)
		}
		res.Changed = true
		if st == "maint" {
			msgs = append(msgs, s.String())
		}
	}
	if len(drained) > 0 {
		start := time.Now()
		timeout := h.DrainTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		sessions, err := h.wait(ctx, c, drained, timeout, "without sessions", func(s haproxy.Server) bool { return s.Sessions == 0 })
		if err != nil {
			return res, fmt.Errorf("%w: raise drain_timeout for long requests", err)
		}
		for _, s := range drained {
			if err := c.SetState(ctx, b, s.slot, "maint"); err != nil {
				return res, fmt.Errorf("haproxy: %w", err)
			}
		}
		msgs = append(msgs, fmt.Sprintf("%s (drained %d session(s), 0 after %s)", stepsString(drained), sessions, since(start)))
	}
	if res.Changed {
		if err := h.saveState(ctx, c); err != nil {
			return res, err
		}
	}
	if len(msgs) == 0 {
		res.Msg = fmt.Sprintf("backend %s already matches the upstream", b)
	} else {
		res.Msg = strings.Join(msgs, "; ")
	}
	return res, nil
}

// wait polls the backend until every slot of steps satisfies ok, and
// returns the most sessions the slots had at once on the first look.
func (h *Haproxy) wait(ctx context.Context, c *haproxy.Client, steps []step, timeout time.Duration, what string, ok func(haproxy.Server) bool) (int, error) {
	deadline := time.Now().Add(timeout)
	start := time.Now()
	first, sessions := true, 0
	for {
		have, err := c.Servers(ctx, h.backend())
		if err != nil {
			return sessions, fmt.Errorf("haproxy: %w", err)
		}
		var left []string
		for _, s := range have {
			i := slices.IndexFunc(steps, func(st step) bool { return st.slot == s.Name })
			if i < 0 {
				continue
			}
			if first {
				sessions += s.Sessions
			}
			if !ok(s) {
				left = append(left, fmt.Sprintf("%s (%s, %d sessions)", steps[i].replica, s.Name, s.Sessions))
			}
		}
		first = false
		if len(left) == 0 {
			return sessions, nil
		}
		if time.Now().After(deadline) {
			return sessions, fmt.Errorf("haproxy: %s not %s after %s", strings.Join(left, ", "), what, timeout)
		}
		h.progressf("waiting for %s to be %s: %s", strings.Join(left, ", "), what, time.Since(start).Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return sessions, fmt.Errorf("haproxy: waiting for %s: %w", strings.Join(left, ", "), ctx.Err())
		case <-time.After(h.poll()):
		}
	}
}

// workerYounger reports whether the newest worker in `show proc` has run for
// less than age (so it read a file written age ago).
func workerYounger(showProc string, age time.Duration) bool {
	inWorkers := false
	for _, l := range strings.Split(showProc, "\n") {
		if strings.HasPrefix(l, "# workers") {
			inWorkers = true
			continue
		}
		if strings.HasPrefix(l, "#") {
			inWorkers = false
			continue
		}
		f := strings.Fields(l)
		if !inWorkers || len(f) < 4 {
			continue
		}
		// Uptime is in whole seconds: a worker that may predate the file
		// is not counted (a needless seamless reload is harmless).
		if up, ok := parseUptime(f[3]); ok && up+time.Second <= age {
			return true
		}
	}
	return false
}

// parseUptime reads HAProxy's "0d00h01m02s".
func parseUptime(s string) (time.Duration, bool) {
	var d, h, m, sec int
	if _, err := fmt.Sscanf(s, "%dd%02dh%02dm%02ds", &d, &h, &m, &sec); err != nil {
		return 0, false
	}
	return time.Duration(((d*24+h)*60+m)*60+sec) * time.Second, true
}
