package tasks

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

	"github.com/zclconf/go-cty/cty"

	"github.com/zdplay/zdplay/internal/haproxy"
)

// HaproxyUpstream makes the server-template slots of an HAProxy backend
// match a rollout's upstream, over the runtime API (the admin socket, a host
// path), without any reload:
//
//   - each replica keeps its slot from one run to the next (the name -> slot
//     map is kept in zdplay-slots.json beside the socket); a replica new to
//     the backend takes the first free slot;
//   - a replica that is not down gets its address (`set server addr`), then
//     `state ready`, and the task waits until HAProxy sees it up (its
//     active check passes), so that the next drain never leaves nothing to
//     send to;
//   - a replica that is down goes `drain` (no new request), and `maint`
//     once its current sessions are 0, waited for up to drain_timeout (an
//     error past it: requests still run on it);
//   - a slot whose replica is no longer listed goes to maint and is freed;
//   - a replica listed not down without an address (its container does not
//     run: bluegreen.hcl lists the colour it switches to whatever runs) is
//     an error before anything changes, so that the others are never
//     drained for want of it; Check reports it as one to ready once it runs.
//
// Replicas are put in before others are taken out. After a change the
// servers' state is written to servers.state beside the socket, which
// haproxy.cfg loads (server-state-file), so a restarted proxy serves the
// same replicas at once. Changed is true when it changed a server's state
// or address. Check reports what it would do.
//
//	task "haproxy_upstream" "drain" {
//	  socket        = "${local.dir}/haproxy/run/admin.sock"
//	  backend       = "app"            # optional, default "app"
//	  upstream      = rollout.upstream # list of { name, address, down }
//	  port          = 3000             # optional, default 3000
//	  drain_timeout = "30s"            # optional, default 30s
//	}
type HaproxyUpstream struct {
	Socket       string    `hcl:"socket"`
	Backend      string    `hcl:"backend,optional"`
	Upstream     cty.Value `hcl:"upstream"`
	Port         int       `hcl:"port,optional"`
	DrainTimeout string    `hcl:"drain_timeout,optional"`
}

var _ Task = (*HaproxyUpstream)(nil)
var _ Validator = (*HaproxyUpstream)(nil)

func init() { Register("haproxy_upstream", func() Task { return &HaproxyUpstream{} }) }

// haproxyUpTimeout bounds the wait for a readied server's check to pass.
const haproxyUpTimeout = 10 * time.Second

// upstreamServer is one entry of the upstream attribute.
type upstreamServer struct {
	name, address string // address "": not running (never down)
	down          bool
}

func (t *HaproxyUpstream) backend() string {
	if t.Backend == "" {
		return "app"
	}
	return t.Backend
}

func (t *HaproxyUpstream) port() int {
	if t.Port == 0 {
		return 3000
	}
	return t.Port
}

func (t *HaproxyUpstream) drainTimeout() (time.Duration, error) {
	if t.DrainTimeout == "" {
		return 30 * time.Second, nil
	}
	d, err := time.ParseDuration(t.DrainTimeout)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("haproxy_upstream: drain_timeout %q is not a duration such as \"30s\"", t.DrainTimeout)
	}
	return d, nil
}

// Validate checks the attributes before the run starts.
func (t *HaproxyUpstream) Validate(*Env) error {
	if t.Socket == "" {
		return errors.New("haproxy_upstream: socket is required (the host path of HAProxy's admin socket)")
	}
	if _, err := t.drainTimeout(); err != nil {
		return err
	}
	_, err := t.servers()
	return err
}

func (t *HaproxyUpstream) servers() ([]upstreamServer, error) {
	if t.Upstream.IsNull() || !t.Upstream.IsKnown() {
		return nil, nil
	}
	list, ok := GoValue(t.Upstream).([]any)
	if !ok {
		return nil, errors.New("haproxy_upstream: upstream must be a list of { name, address, down } (rollout.upstream)")
	}
	var out []upstreamServer
	for i, e := range list {
		m, ok := e.(map[string]any)
		name, _ := m["name"].(string)
		addr, _ := m["address"].(string)
		down, _ := m["down"].(bool)
		if !ok || name == "" || (addr == "" && down) {
			return nil, fmt.Errorf("haproxy_upstream: upstream[%d] needs a name, and an address when it is down, got %v", i, e)
		}
		out = append(out, upstreamServer{name: name, address: addr, down: down})
	}
	return out, nil
}

// slotsFile is where the name -> slot map of the socket's HAProxy is kept.
func (t *HaproxyUpstream) slotsFile() string {
	return filepath.Join(filepath.Dir(t.Socket), "zdplay-slots.json")
}

func (t *HaproxyUpstream) loadSlots() (map[string]string, error) {
	slots := map[string]string{}
	data, err := os.ReadFile(t.slotsFile())
	if errors.Is(err, os.ErrNotExist) {
		return slots, nil
	}
	if err != nil {
		return nil, fmt.Errorf("haproxy_upstream: %w", err)
	}
	if err := json.Unmarshal(data, &slots); err != nil {
		return nil, fmt.Errorf("haproxy_upstream: %s: %w (remove it: the slots are then assigned again)", t.slotsFile(), err)
	}
	return slots, nil
}

// step is one change to one slot.
type step struct {
	replica, slot string
	addr          string // set this address first ("" = keep)
	state         string // ready, drain (then maint once idle) or maint
	// noAddr: to ready, but it has no address yet (its container does not
	// run): Apply refuses the whole plan.
	noAddr bool
}

func (s step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", s.replica, s.slot)
	if s.noAddr {
		b.WriteString(" ready once it runs (no address yet)")
		return b.String()
	}
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

// plan decides the steps from what HAProxy has and the upstream, and the
// name -> slot map to save.
func (t *HaproxyUpstream) plan(have []haproxy.Server, want []upstreamServer, slots map[string]string) (in, out []step, keep map[string]string, err error) {
	byName := map[string]haproxy.Server{}
	for _, s := range have {
		byName[s.Name] = s
	}
	keep = map[string]string{}
	used := map[string]bool{}
	listed := map[string]bool{}
	for _, w := range want {
		listed[w.name] = true
		if slot, ok := slots[w.name]; ok {
			if _, exists := byName[slot]; exists && !used[slot] {
				keep[w.name], used[slot] = slot, true
			}
		}
	}
	for _, w := range want {
		if _, ok := keep[w.name]; ok {
			continue
		}
		// A free slot: preferably one in maintenance that no replica held,
		// then any not taken (one held by a replica no longer listed).
		recorded := map[string]bool{}
		for _, slot := range slots {
			recorded[slot] = true
		}
		for pass := 0; pass < 2 && keep[w.name] == ""; pass++ {
			for _, s := range have {
				if !used[s.Name] && (pass == 1 || (s.Maint() && !recorded[s.Name])) {
					keep[w.name], used[s.Name] = s.Name, true
					break
				}
			}
		}
		if _, ok := keep[w.name]; !ok {
			return nil, nil, nil, fmt.Errorf("haproxy_upstream: backend %s has %d slots, all in use: %s gets none; raise the slots variable (a reload of haproxy.cfg)", t.backend(), len(have), w.name)
		}
	}
	port := t.port()
	for _, w := range want {
		slot := keep[w.name]
		s := byName[slot]
		st := step{replica: w.name, slot: slot}
		if w.address == "" {
			st.state, st.noAddr = "ready", true
			in = append(in, st)
			continue
		}
		if s.Addr != w.address || s.Port != port {
			st.addr = w.address
		}
		switch {
		case !w.down && (!s.Ready() || st.addr != ""):
			st.state = "ready"
			in = append(in, st)
		case w.down && !s.Maint():
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

func (t *HaproxyUpstream) prepare(ctx context.Context) (*haproxy.Client, []step, []step, map[string]string, error) {
	want, err := t.servers()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c := &haproxy.Client{Socket: t.Socket}
	err = haproxy.Wait(ctx, t.Socket, 5*time.Second) // a proxy just (re)started
	var have []haproxy.Server
	if err == nil {
		have, err = c.Servers(ctx, t.backend())
	}
	if errors.Is(err, haproxy.ErrNoSocket) {
		return nil, nil, nil, nil, fmt.Errorf("haproxy_upstream: %w: is the proxy running? run provision", err)
	}
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("haproxy_upstream: %w", err)
	}
	if len(have) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("haproxy_upstream: backend %s has no server slots (is haproxy.cfg rendered with server-template?)", t.backend())
	}
	slots, err := t.loadSlots()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	in, out, keep, err := t.plan(have, want, slots)
	return c, in, out, keep, err
}

// Check reports the steps Apply would take.
func (t *HaproxyUpstream) Check(ctx context.Context, env *Env) (Result, error) {
	if _, err := os.Stat(t.Socket); errors.Is(err, os.ErrNotExist) {
		return Result{Changed: true, Msg: fmt.Sprintf("would set the slots of backend %s once haproxy runs (%s does not exist yet)", t.backend(), t.Socket)}, nil
	}
	_, in, out, _, err := t.prepare(ctx)
	if err != nil {
		return Result{}, err
	}
	if len(in)+len(out) == 0 {
		return Result{Msg: fmt.Sprintf("backend %s already matches the upstream", t.backend())}, nil
	}
	return Result{Changed: true, Msg: "would set " + stepsString(append(in, out...))}, nil
}

func stepsString(steps []step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}

// Apply puts replicas in, then takes others out, then saves the slots.
func (t *HaproxyUpstream) Apply(ctx context.Context, env *Env) (Result, error) {
	drainTimeout, err := t.drainTimeout()
	if err != nil {
		return Result{}, err
	}
	c, in, out, keep, err := t.prepare(ctx)
	if err != nil {
		return Result{}, err
	}
	for _, s := range in {
		if s.noAddr {
			return Result{}, fmt.Errorf("haproxy_upstream: %s has no address (its container does not run): nothing changed, the servers in service stay in; bring it up and run again", s.replica)
		}
	}
	b := t.backend()
	res := Result{}
	var msgs []string
	save := func() error {
		data, _ := json.MarshalIndent(keep, "", "  ")
		if err := writeAtomic(t.slotsFile(), append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("haproxy_upstream: saving the slots: %w", err)
		}
		return nil
	}
	// Record slots first: a run killed midway finds them next time.
	if err := save(); err != nil {
		return res, err
	}
	var readied []step
	for _, s := range in {
		if s.addr != "" {
			if err := c.SetState(ctx, b, s.slot, "maint"); err != nil {
				return res, fmt.Errorf("haproxy_upstream: %w", err)
			}
			if err := c.SetAddr(ctx, b, s.slot, s.addr, t.port()); err != nil {
				return res, fmt.Errorf("haproxy_upstream: %w", err)
			}
		}
		if err := c.SetState(ctx, b, s.slot, "ready"); err != nil {
			return res, fmt.Errorf("haproxy_upstream: %w", err)
		}
		res.Changed = true
		readied = append(readied, s)
	}
	if len(readied) > 0 {
		start := time.Now()
		if err := t.waitServers(ctx, env, c, readied, haproxyUpTimeout, "up", func(s haproxy.Server) bool { return s.Up() }); err != nil {
			return res, err
		}
		msgs = append(msgs, fmt.Sprintf("%s (up after %s)", stepsString(readied), time.Since(start).Round(time.Millisecond)))
	}
	var drained []step
	for _, s := range out {
		if s.addr != "" && s.state == "" {
			if err := c.SetAddr(ctx, b, s.slot, s.addr, t.port()); err != nil {
				return res, fmt.Errorf("haproxy_upstream: %w", err)
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
			return res, fmt.Errorf("haproxy_upstream: %w", err)
		}
		res.Changed = true
		if st == "maint" {
			msgs = append(msgs, s.String())
		}
	}
	if len(drained) > 0 {
		start := time.Now()
		if err := t.waitServers(ctx, env, c, drained, drainTimeout, "without sessions", func(s haproxy.Server) bool { return s.Sessions == 0 }); err != nil {
			return res, fmt.Errorf("%w: raise drain_timeout for long requests", err)
		}
		for _, s := range drained {
			if err := c.SetState(ctx, b, s.slot, "maint"); err != nil {
				return res, fmt.Errorf("haproxy_upstream: %w", err)
			}
		}
		msgs = append(msgs, fmt.Sprintf("%s (sessions 0 after %s)", stepsString(drained), time.Since(start).Round(time.Millisecond)))
	}
	if res.Changed {
		// What a restarted proxy starts from (server-state-file): the
		// slots' addresses and states, not an empty backend.
		state, err := c.Command(ctx, "show servers state")
		if err == nil {
			err = writeAtomic(filepath.Join(filepath.Dir(t.Socket), "servers.state"), []byte(state), 0o644)
		}
		if err != nil {
			return res, fmt.Errorf("haproxy_upstream: saving the servers' state: %w", err)
		}
	}
	if len(msgs) == 0 {
		res.Msg = fmt.Sprintf("backend %s already matches the upstream", b)
	} else {
		res.Msg = strings.Join(msgs, "; ")
	}
	return res, nil
}

// waitServers polls the backend until every slot of steps satisfies ok.
func (t *HaproxyUpstream) waitServers(ctx context.Context, env *Env, c *haproxy.Client, steps []step, timeout time.Duration, what string, ok func(haproxy.Server) bool) error {
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		have, err := c.Servers(ctx, t.backend())
		if err != nil {
			return fmt.Errorf("haproxy_upstream: %w", err)
		}
		var left []string
		for _, s := range have {
			if i := slices.IndexFunc(steps, func(st step) bool { return st.slot == s.Name }); i >= 0 && !ok(s) {
				left = append(left, fmt.Sprintf("%s (%s, %d sessions)", steps[i].replica, s.Name, s.Sessions))
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy_upstream: %s not %s after %s", strings.Join(left, ", "), what, timeout)
		}
		env.Progressf("waiting for %s to be %s: %s", strings.Join(left, ", "), what, time.Since(start).Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy_upstream: waiting for %s: %w", strings.Join(left, ", "), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
