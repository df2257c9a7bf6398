// Package swarmstack is zdplay's glue to Docker Swarm over the Engine API:
// connecting to a manager (unix://, tcp:// or ssh://), turning a compose
// project (loaded with compose-go) into a stack's networks, configs and
// service specs as `docker stack deploy` names and labels them, deploying
// it, and following a service's rolling update to its end.
//
// Every function takes the caller's ctx and passes it to every Docker call.
package swarmstack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// Labels docker stack deploy sets, and the one zdplay adds.
const (
	LabelNamespace = "com.docker.stack.namespace"
	LabelImage     = "com.docker.stack.image"
	// LabelSpec is the hash of the service spec zdplay last sent, its image
	// left out (compared on its own, so that swarm_update's image and a
	// deploy at the same release agree): a spec that did not change is not
	// sent again.
	LabelSpec = "io.zdplay.spec-hash"
)

// Stack is what a compose project deploys to a Swarm.
type Stack struct {
	Name     string
	Networks []Network
	Configs  []Config
	Services []Service
}

// Network is an overlay network of the stack.
type Network struct {
	Name    string // as created: "stack_front"
	Options map[string]string
	Labels  map[string]string
	// Attachable, Internal as in the compose file.
	Attachable, Internal bool
}

// Config is a Swarm config of the stack. Configs are immutable: its name
// carries a hash of its content, so a changed file is a new config and the
// services using it are updated (rolled) to it.
type Config struct {
	Name string // "stack_nginx-1a2b3c4d"
	Data []byte
	Key  string // the compose key, "nginx"
}

// Service is one service's spec, as zdplay sends it.
type Service struct {
	Key  string // the compose key, "app"
	Spec swarm.ServiceSpec
	Hash string // LabelSpec's value
}

// Image is the image a spec runs.
func (s Service) Image() string { return s.Spec.TaskTemplate.ContainerSpec.Image }

// Convert turns a compose project into a stack named p.Name.
func Convert(p *types.Project) (*Stack, error) {
	st := &Stack{Name: p.Name}
	ns := func() map[string]string { return map[string]string{LabelNamespace: p.Name} }
	netNames := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n := p.Networks[key]
		name := n.Name
		if name == "" {
			name = p.Name + "_" + key
		}
		netNames[key] = name
		if bool(n.External) {
			continue
		}
		if n.Driver != "" && n.Driver != "overlay" {
			return nil, fmt.Errorf("network %s: driver %q: a stack's networks are overlay networks", key, n.Driver)
		}
		labels := ns()
		for k, v := range n.Labels {
			labels[k] = v
		}
		st.Networks = append(st.Networks, Network{Name: name, Options: n.DriverOpts, Labels: labels, Attachable: n.Attachable, Internal: n.Internal})
	}
	configNames := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(p.Configs)) {
		c := p.Configs[key]
		if bool(c.External) {
			configNames[key] = c.Name
			continue
		}
		var data []byte
		switch {
		case c.File != "":
			b, err := os.ReadFile(c.File)
			if err != nil {
				return nil, fmt.Errorf("config %s: %w", key, err)
			}
			data = b
		case c.Content != "":
			data = []byte(c.Content)
		default:
			return nil, fmt.Errorf("config %s: neither file nor content", key)
		}
		sum := sha256.Sum256(data)
		name := p.Name + "_" + key + "-" + hex.EncodeToString(sum[:])[:10]
		configNames[key] = name
		st.Configs = append(st.Configs, Config{Name: name, Data: data, Key: key})
	}
	for _, key := range slices.Sorted(maps.Keys(p.Services)) {
		s, err := convertService(p, p.Services[key], netNames, configNames)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", key, err)
		}
		st.Services = append(st.Services, s)
	}
	return st, nil
}

func convertService(p *types.Project, s types.ServiceConfig, netNames, configNames map[string]string) (Service, error) {
	name := p.Name + "_" + s.Name
	deploy := s.Deploy
	if deploy == nil {
		deploy = &types.DeployConfig{}
	}
	labels := map[string]string{LabelNamespace: p.Name, LabelImage: s.Image}
	for k, v := range deploy.Labels {
		labels[k] = v
	}
	ctrLabels := map[string]string{LabelNamespace: p.Name}
	for k, v := range s.Labels {
		ctrLabels[k] = v
	}
	var env []string
	for k, v := range s.Environment {
		if v != nil {
			env = append(env, k+"="+*v)
		}
	}
	sort.Strings(env)

	cs := &swarm.ContainerSpec{
		Image:      s.Image,
		Labels:     ctrLabels,
		Command:    s.Entrypoint,
		Args:       s.Command,
		Hostname:   s.Hostname,
		Env:        env,
		Dir:        s.WorkingDir,
		User:       s.User,
		Init:       s.Init,
		StopSignal: s.StopSignal,
		ReadOnly:   s.ReadOnly,
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		cs.StopGracePeriod = &d
	}
	if h := s.HealthCheck; h != nil {
		hc := &container.HealthConfig{Test: h.Test}
		if h.Disable {
			hc = &container.HealthConfig{Test: []string{"NONE"}}
		}
		if h.Interval != nil {
			hc.Interval = time.Duration(*h.Interval)
		}
		if h.Timeout != nil {
			hc.Timeout = time.Duration(*h.Timeout)
		}
		if h.StartPeriod != nil {
			hc.StartPeriod = time.Duration(*h.StartPeriod)
		}
		if h.Retries != nil {
			hc.Retries = int(*h.Retries)
		}
		cs.Healthcheck = hc
	}
	for _, v := range s.Volumes {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume, "":
			m.Type = mount.TypeVolume
			if v.Source != "" {
				vol, ok := p.Volumes[v.Source]
				if !ok {
					return Service{}, fmt.Errorf("volume %s is not declared under volumes", v.Source)
				}
				m.Source = vol.Name
				if m.Source == "" {
					m.Source = p.Name + "_" + v.Source
				}
				opts := &mount.VolumeOptions{Labels: map[string]string{LabelNamespace: p.Name}}
				if vol.Driver != "" {
					opts.DriverConfig = &mount.Driver{Name: vol.Driver, Options: vol.DriverOpts}
				}
				m.VolumeOptions = opts
			}
		case types.VolumeTypeBind:
			m.Type, m.Source = mount.TypeBind, v.Source
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
		default:
			return Service{}, fmt.Errorf("volume type %q is not supported in a stack", v.Type)
		}
		cs.Mounts = append(cs.Mounts, m)
	}
	for _, c := range s.Configs {
		cname, ok := configNames[c.Source]
		if !ok {
			return Service{}, fmt.Errorf("config %s is not declared under configs", c.Source)
		}
		target := c.Target
		if target == "" {
			target = "/" + c.Source
		}
		mode := os.FileMode(0o444)
		if c.Mode != nil {
			mode = os.FileMode(*c.Mode)
		}
		uid, gid := c.UID, c.GID
		if uid == "" {
			uid = "0"
		}
		if gid == "" {
			gid = "0"
		}
		// ConfigID is filled in by Deploy, once the config exists.
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{ConfigName: cname,
			File: &swarm.ConfigReferenceFileTarget{Name: target, UID: uid, GID: gid, Mode: mode}})
	}

	tt := swarm.TaskSpec{ContainerSpec: cs}
	var nets []swarm.NetworkAttachmentConfig
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		target, ok := netNames[key]
		if !ok {
			return Service{}, fmt.Errorf("network %s is not declared under networks", key)
		}
		aliases := []string{s.Name}
		if cfg := s.Networks[key]; cfg != nil {
			aliases = append(aliases, cfg.Aliases...)
		}
		nets = append(nets, swarm.NetworkAttachmentConfig{Target: target, Aliases: aliases})
	}
	tt.Networks = nets
	if rp := deploy.RestartPolicy; rp != nil {
		r := &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition), MaxAttempts: rp.MaxAttempts}
		if rp.Delay != nil {
			d := time.Duration(*rp.Delay)
			r.Delay = &d
		}
		if rp.Window != nil {
			d := time.Duration(*rp.Window)
			r.Window = &d
		}
		tt.RestartPolicy = r
	}
	pl := deploy.Placement
	if len(pl.Constraints) > 0 || len(pl.Preferences) > 0 || pl.MaxReplicas > 0 {
		tp := &swarm.Placement{Constraints: pl.Constraints, MaxReplicas: pl.MaxReplicas}
		for _, pref := range pl.Preferences {
			tp.Preferences = append(tp.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pref.Spread}})
		}
		tt.Placement = tp
	}
	if r := deploy.Resources; r.Limits != nil || r.Reservations != nil {
		rr := &swarm.ResourceRequirements{}
		if l := r.Limits; l != nil {
			rr.Limits = &swarm.Limit{NanoCPUs: int64(float64(l.NanoCPUs) * 1e9), MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
		}
		if l := r.Reservations; l != nil {
			rr.Reservations = &swarm.Resources{NanoCPUs: int64(float64(l.NanoCPUs) * 1e9), MemoryBytes: int64(l.MemoryBytes)}
		}
		tt.Resources = rr
	}

	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: labels},
		TaskTemplate: tt,
	}
	switch deploy.Mode {
	case "", "replicated":
		n := uint64(1)
		if deploy.Replicas != nil {
			n = uint64(*deploy.Replicas)
		}
		spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}
	case "global":
		spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	default:
		return Service{}, fmt.Errorf("deploy.mode %q: replicated or global", deploy.Mode)
	}
	var err error
	if spec.UpdateConfig, err = convertUpdate(deploy.UpdateConfig, "update_config"); err != nil {
		return Service{}, err
	}
	if spec.RollbackConfig, err = convertUpdate(deploy.RollbackConfig, "rollback_config"); err != nil {
		return Service{}, err
	}
	ep := &swarm.EndpointSpec{}
	switch deploy.EndpointMode {
	case "", "vip":
		ep.Mode = swarm.ResolutionModeVIP
	case "dnsrr":
		ep.Mode = swarm.ResolutionModeDNSRR
	default:
		return Service{}, fmt.Errorf("deploy.endpoint_mode %q: vip or dnsrr", deploy.EndpointMode)
	}
	for _, port := range s.Ports {
		pc := swarm.PortConfig{Name: port.Name, TargetPort: port.Target, Protocol: network.TCP, PublishMode: swarm.PortConfigPublishModeIngress}
		if port.Protocol != "" {
			pc.Protocol = network.IPProtocol(port.Protocol)
		}
		if port.Mode == "host" {
			pc.PublishMode = swarm.PortConfigPublishModeHost
		}
		if port.Published != "" {
			n, err := strconv.ParseUint(port.Published, 10, 32)
			if err != nil {
				return Service{}, fmt.Errorf("port %q: a stack publishes one port, not a range", port.Published)
			}
			pc.PublishedPort = uint32(n)
		}
		ep.Ports = append(ep.Ports, pc)
	}
	spec.EndpointSpec = ep

	h, err := specHash(spec)
	if err != nil {
		return Service{}, err
	}
	spec.Labels[LabelSpec] = h
	return Service{Key: s.Name, Spec: spec, Hash: h}, nil
}

func convertUpdate(u *types.UpdateConfig, what string) (*swarm.UpdateConfig, error) {
	if u == nil {
		return nil, nil
	}
	c := &swarm.UpdateConfig{
		Parallelism:     1,
		Delay:           time.Duration(u.Delay),
		Monitor:         time.Duration(u.Monitor),
		MaxFailureRatio: u.MaxFailureRatio,
		FailureAction:   swarm.FailureAction(u.FailureAction),
		Order:           swarm.UpdateOrder(u.Order),
	}
	if u.Parallelism != nil {
		c.Parallelism = *u.Parallelism
	}
	switch u.FailureAction {
	case "", "pause", "continue", "rollback":
	default:
		return nil, fmt.Errorf("%s.failure_action %q: pause, continue or rollback", what, u.FailureAction)
	}
	if what == "rollback_config" && u.FailureAction == "rollback" {
		return nil, fmt.Errorf("rollback_config.failure_action %q: pause or continue", u.FailureAction)
	}
	switch u.Order {
	case "", "stop-first", "start-first":
	default:
		return nil, fmt.Errorf("%s.order %q: stop-first or start-first", what, u.Order)
	}
	return c, nil
}

// specHash hashes a spec without its image and zdplay's own label.
func specHash(spec swarm.ServiceSpec) (string, error) {
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Image = ""
	spec.TaskTemplate.ContainerSpec = &cs
	labels := map[string]string{}
	for k, v := range spec.Labels {
		if k != LabelSpec && k != LabelImage {
			labels[k] = v
		}
	}
	spec.Labels = labels
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16], nil
}

// Short shortens an ID for messages.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// joinLines joins non-empty lines.
func joinLines(lines []string) string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
