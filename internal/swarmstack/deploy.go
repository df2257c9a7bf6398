package swarmstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// PingTimeout bounds the first ping of Connect.
const PingTimeout = 5 * time.Second

// Connect opens a connection to the engine at host (unix://, tcp:// or
// ssh://user@machine; "" = DOCKER_HOST, else the local engine), negotiates
// the API version and checks that it is a Swarm manager.
func Connect(ctx context.Context, host string) (*client.Client, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = client.DefaultDockerHost
	}
	var opts []client.Opt // the API version is negotiated (the default), forced by the ping below
	if strings.HasPrefix(host, "ssh://") {
		helper, err := connhelper.GetConnectionHelper(host)
		if err != nil {
			return nil, fmt.Errorf("docker_host %s: %w", host, err)
		}
		opts = append(opts,
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: helper.Dialer}}),
			client.WithHost(helper.Host),
			client.WithDialContext(helper.Dialer))
	} else {
		opts = append(opts, client.WithHost(host))
		if os.Getenv("DOCKER_TLS_VERIFY") != "" || os.Getenv("DOCKER_CERT_PATH") != "" {
			opts = append(opts, client.WithTLSClientConfigFromEnv())
		}
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker_host %s: %w", host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true, ForceNegotiate: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("the Docker engine at %s did not answer within %s: %w (set docker_host or DOCKER_HOST to a Swarm manager)", host, PingTimeout, err)
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		c.Close()
		return nil, err
	}
	if !info.Info.Swarm.ControlAvailable {
		c.Close()
		return nil, fmt.Errorf("the Docker engine at %s is not a Swarm manager (swarm state %q): point docker_host at a manager, or `docker swarm init` there", host, info.Info.Swarm.LocalNodeState)
	}
	return c, nil
}

func stackFilter(stack string) client.Filters {
	return client.Filters{}.Add("label", LabelNamespace+"="+stack)
}

// Change is one thing Deploy did (or, checking, would do).
type Change struct {
	What string // "created network s_front", "updated service s_app: image a -> b"
	// Service is set when a service was created or its spec updated: its
	// name, and whether the update changes its tasks (so that a rolling
	// update follows).
	Service string
	Rolling bool
	// Rollback marks an asked-for rollback: rollback_completed is its
	// success.
	Rollback  bool
	Image     string        // the image the update rolls to
	Before    swarm.Version // the service's version before the update
	StartedAt *time.Time    // its UpdateStatus.StartedAt before the update
}

// Deploy creates what the stack lacks (networks, configs, services) and
// updates every service whose spec changed (its image or anything else),
// as docker stack deploy does; with check it only says what it would do.
// Services, networks and configs of the stack that the file no longer has
// are left alone (no prune).
func Deploy(ctx context.Context, c client.APIClient, st *Stack, check bool) ([]Change, error) {
	var changes []Change
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(st.Name)})
	if err != nil {
		return nil, err
	}
	haveNet := map[string]bool{}
	for _, n := range nets.Items {
		haveNet[n.Name] = true
	}
	for _, n := range st.Networks {
		if haveNet[n.Name] {
			continue
		}
		changes = append(changes, Change{What: "created network " + n.Name})
		if check {
			continue
		}
		if _, err := c.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{
			Driver: "overlay", Scope: "swarm", Labels: n.Labels, Options: n.Options,
			Attachable: n.Attachable, Internal: n.Internal,
		}); err != nil {
			return changes, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}

	cfgs, err := c.ConfigList(ctx, client.ConfigListOptions{Filters: stackFilter(st.Name)})
	if err != nil {
		return changes, err
	}
	configID := map[string]string{}
	for _, cf := range cfgs.Items {
		configID[cf.Spec.Name] = cf.ID
	}
	for _, cf := range st.Configs {
		if configID[cf.Name] != "" {
			continue
		}
		changes = append(changes, Change{What: "created config " + cf.Name})
		if check {
			configID[cf.Name] = "(to be created)"
			continue
		}
		res, err := c.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: cf.Name, Labels: map[string]string{LabelNamespace: st.Name}},
			Data:        cf.Data,
		}})
		if err != nil {
			return changes, fmt.Errorf("config %s: %w", cf.Name, err)
		}
		configID[cf.Name] = res.ID
	}

	existing, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(st.Name)})
	if err != nil {
		return changes, err
	}
	byName := map[string]swarm.Service{}
	for _, s := range existing.Items {
		byName[s.Spec.Name] = s
	}
	for _, s := range st.Services {
		spec := s.Spec
		for _, ref := range spec.TaskTemplate.ContainerSpec.Configs {
			ref.ConfigID = configID[ref.ConfigName]
			if ref.ConfigID == "" {
				// An external config.
				list, err := c.ConfigList(ctx, client.ConfigListOptions{Filters: client.Filters{}.Add("name", ref.ConfigName)})
				if err != nil || len(list.Items) == 0 {
					return changes, fmt.Errorf("service %s: config %s not found", spec.Name, ref.ConfigName)
				}
				ref.ConfigID = list.Items[0].ID
			}
		}
		cur, ok := byName[spec.Name]
		if !ok {
			changes = append(changes, Change{What: "created service " + spec.Name + " (" + s.Image() + ")", Service: spec.Name})
			if check {
				continue
			}
			if _, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec}); err != nil {
				return changes, fmt.Errorf("service %s: %w", spec.Name, err)
			}
			continue
		}
		curImage := cur.Spec.TaskTemplate.ContainerSpec.Image
		if cur.Spec.Labels[LabelSpec] == s.Hash && sameImage(curImage, s.Image()) {
			continue
		}
		what := "updated service " + spec.Name
		if !sameImage(curImage, s.Image()) {
			what += ": image " + curImage + " -> " + s.Image()
		} else {
			what += ": spec changed"
		}
		ch := Change{What: what, Service: spec.Name, Image: s.Image(), Before: cur.Version, Rolling: taskChanged(cur.Spec, spec)}
		if cur.UpdateStatus != nil {
			ch.StartedAt = cur.UpdateStatus.StartedAt
		}
		changes = append(changes, ch)
		if check {
			continue
		}
		if err := updateService(ctx, c, cur.ID, func(cur swarm.ServiceSpec) swarm.ServiceSpec { return spec }, &changes[len(changes)-1]); err != nil {
			return changes, fmt.Errorf("service %s: %w", spec.Name, err)
		}
	}
	return changes, nil
}

// sameImage compares images, ignoring a digest the engine pinned.
func sameImage(a, b string) bool {
	strip := func(s string) string {
		if i := strings.Index(s, "@"); i >= 0 {
			return s[:i]
		}
		return s
	}
	return strip(a) == strip(b)
}

// taskChanged says whether an update from cur to next changes what the
// tasks run (then Swarm replaces them by its update_config).
func taskChanged(cur, next swarm.ServiceSpec) bool {
	a, b := cur.TaskTemplate, next.TaskTemplate
	a.ForceUpdate, b.ForceUpdate = 0, 0
	ha, _ := specHash(swarm.ServiceSpec{TaskTemplate: a, EndpointSpec: cur.EndpointSpec})
	hb, _ := specHash(swarm.ServiceSpec{TaskTemplate: b, EndpointSpec: next.EndpointSpec})
	return ha != hb || !sameImage(a.ContainerSpec.Image, b.ContainerSpec.Image)
}

// updateService updates a service's spec by edit, re-reading it and trying
// again when the manager answers "update out of sequence" (another writer
// came first). ch, when set, gets the version and UpdateStatus seen.
func updateService(ctx context.Context, c client.APIClient, id string, edit func(swarm.ServiceSpec) swarm.ServiceSpec, ch *Change) error {
	for attempt := 0; ; attempt++ {
		res, err := c.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		cur := res.Service
		if ch != nil {
			ch.Before = cur.Version
			ch.StartedAt = nil
			if cur.UpdateStatus != nil {
				ch.StartedAt = cur.UpdateStatus.StartedAt
			}
		}
		_, err = c.ServiceUpdate(ctx, cur.ID, client.ServiceUpdateOptions{Version: cur.Version, Spec: edit(cur.Spec)})
		if err == nil {
			return nil
		}
		if strings.Contains(err.Error(), "update out of sequence") && attempt < 10 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		return err
	}
}

// UpdateImage sets a service's image (and, when set, its update_config) and
// returns the change to follow; changed is false when it already runs it.
func UpdateImage(ctx context.Context, c client.APIClient, service, image string, uc *swarm.UpdateConfig, check bool) (Change, bool, error) {
	res, err := c.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
	if err != nil {
		return Change{}, false, err
	}
	cur := res.Service
	curImage := cur.Spec.TaskTemplate.ContainerSpec.Image
	if sameImage(curImage, image) && (uc == nil || cur.Spec.UpdateConfig != nil && *cur.Spec.UpdateConfig == *uc) {
		return Change{What: cur.Spec.Name + " runs " + image, Service: cur.Spec.Name}, false, nil
	}
	ch := Change{What: "updated service " + cur.Spec.Name + ": image " + curImage + " -> " + image, Service: cur.Spec.Name, Image: image, Rolling: !sameImage(curImage, image)}
	if check {
		return ch, true, nil
	}
	err = updateService(ctx, c, cur.ID, func(s swarm.ServiceSpec) swarm.ServiceSpec {
		cs := *s.TaskTemplate.ContainerSpec
		cs.Image = image
		s.TaskTemplate.ContainerSpec = &cs
		if uc != nil {
			s.UpdateConfig = uc
		}
		if s.Labels != nil {
			s.Labels[LabelImage] = image
		}
		return s
	}, &ch)
	return ch, true, err
}

// Rollback asks the manager to roll a service back to its previous spec
// (docker service rollback).
func Rollback(ctx context.Context, c client.APIClient, service string) (Change, error) {
	res, err := c.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
	if err != nil {
		return Change{}, err
	}
	cur := res.Service
	if cur.PreviousSpec == nil {
		return Change{}, fmt.Errorf("service %s has no previous spec to roll back to", cur.Spec.Name)
	}
	prev := cur.PreviousSpec.TaskTemplate.ContainerSpec.Image
	ch := Change{What: "rolled back " + cur.Spec.Name + ": image " + cur.Spec.TaskTemplate.ContainerSpec.Image + " -> " + prev,
		Service: cur.Spec.Name, Image: prev, Rolling: true, Rollback: true}
	for attempt := 0; ; attempt++ {
		ch.Before, ch.StartedAt = cur.Version, nil
		if cur.UpdateStatus != nil {
			ch.StartedAt = cur.UpdateStatus.StartedAt
		}
		_, err = c.ServiceUpdate(ctx, cur.ID, client.ServiceUpdateOptions{Version: cur.Version, Spec: cur.Spec, Rollback: "previous"})
		if err == nil || !strings.Contains(err.Error(), "update out of sequence") || attempt >= 10 {
			return ch, err
		}
		res, err = c.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
		if err != nil {
			return ch, err
		}
		cur = res.Service
	}
}

// Outcome is how a followed update ended.
type Outcome struct {
	State   swarm.UpdateState // completed, paused, rollback_completed...
	Message string
	Elapsed time.Duration
}

// ErrUpdateFailed is wrapped by Follow's error when the update paused or
// rolled back.
var ErrUpdateFailed = errors.New("update failed")

// Follow polls a service's UpdateStatus until the update that ch started
// ends: completed (nil error), or paused, rolled back or rollback paused (an
// error naming the failed tasks and their nodes). progress gets a line at
// each change of state.
func Follow(ctx context.Context, c client.APIClient, ch Change, progress func(string, ...any)) (Outcome, error) {
	start := time.Now()
	last := ""
	var messages []string // every distinct message of this update, in order
	for {
		res, err := c.ServiceInspect(ctx, ch.Service, client.ServiceInspectOptions{})
		if err != nil {
			return Outcome{}, err
		}
		svc := res.Service
		if !ch.Rollback && svc.Version.Index > ch.Before.Index && svc.PreviousSpec != nil && sameTasks(svc.Spec.TaskTemplate, svc.PreviousSpec.TaskTemplate) {
			// The manager's own copies of the spec before and after: the
			// update changed nothing the tasks run (a label, the replica
			// count, the update_config), so no rolling update follows.
			return Outcome{State: swarm.UpdateStateCompleted, Message: "tasks unchanged", Elapsed: time.Since(start)}, nil
		}
		us := svc.UpdateStatus
		fresh := us != nil && us.StartedAt != nil && (ch.StartedAt == nil || us.StartedAt.After(*ch.StartedAt))
		if fresh {
			if s := string(us.State) + ": " + us.Message; s != last {
				last = s
				progress("%s %s", ch.Service, s)
				messages = append(messages, us.Message)
			}
			out := Outcome{State: us.State, Message: us.Message, Elapsed: time.Since(start)}
			if us.State == swarm.UpdateStateRollbackCompleted {
				// Swarm says so once the last task is started, not once it
				// is healthy: wait until every task runs again.
				if err := waitRunning(ctx, c, ch.Service); err != nil {
					return out, err
				}
				out.Elapsed = time.Since(start)
				if ch.Rollback {
					return out, nil
				}
			}
			switch us.State {
			case swarm.UpdateStateCompleted:
				return out, nil
			case swarm.UpdateStatePaused, swarm.UpdateStateRollbackCompleted, swarm.UpdateStateRollbackPaused:
				detail := namedTasks(ctx, c, ch.Service, messages)
				if detail == "" {
					detail, _ = FailedTasks(ctx, c, ch.Service, ch.Image)
				}
				return out, fmt.Errorf("%w: service %s: %s (%s)%s", ErrUpdateFailed, ch.Service, us.State, strings.Join(messages, "; then "), detail)
			}
		}
		select {
		case <-ctx.Done():
			state := "no update started yet"
			if fresh {
				state = string(us.State) + ": " + us.Message
			}
			detail, _ := FailedTasks(context.Background(), c, ch.Service, ch.Image)
			return Outcome{Elapsed: time.Since(start)}, fmt.Errorf("service %s: update not finished after %s (%s)%s", ch.Service, time.Since(start).Round(time.Millisecond), state, detail)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var taskIDPattern = regexp.MustCompile(`\btask ([a-z0-9]{25})\b`)

// namedTasks describes the tasks that the update's messages name ("update
// paused due to failure or early termination of task ID"), with their node,
// state, error and image, and where to look next.
func namedTasks(ctx context.Context, c client.APIClient, service string, messages []string) string {
	seen := map[string]bool{}
	nodes := nodeNames(ctx, c)
	var b strings.Builder
	for _, m := range messages {
		for _, match := range taskIDPattern.FindAllStringSubmatch(m, -1) {
			id := match[1]
			if seen[id] {
				continue
			}
			seen[id] = true
			res, err := c.TaskInspect(ctx, id, client.TaskInspectOptions{})
			if err != nil {
				continue // already pruned by the task history limit
			}
			t := res.Task
			fmt.Fprintf(&b, "\n  failed task %s (%s) on node %s, image %s: now %s%s", TaskName(service, t), Short(t.ID), nodes[t.NodeID],
				t.Spec.ContainerSpec.Image, t.Status.State, prefixed(joinLines([]string{t.Status.Err, t.Status.Message})))
			if cs := t.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
				fmt.Fprintf(&b, "\n    see `docker logs %s` and `docker inspect --format '{{json .State.Health}}' %s` on that node", Short(cs.ContainerID), Short(cs.ContainerID))
			}
		}
	}
	return b.String()
}

// waitRunning waits until every task of the service runs its spec's image.
func waitRunning(ctx context.Context, c client.APIClient, service string) error {
	for {
		st, err := Tasks(ctx, c, service, "")
		if err == nil && st.Ready >= st.Wanted && len(st.Pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s: rolled back, but not every task runs yet: %s", service, strings.Join(st.Pending, "; "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sameTasks compares two task templates as the manager stores them.
func sameTasks(a, b swarm.TaskSpec) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// nodeNames maps node IDs to "hostname (address)".
func nodeNames(ctx context.Context, c client.APIClient) map[string]string {
	names := map[string]string{}
	nodes, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return names
	}
	for _, n := range nodes.Items {
		names[n.ID] = fmt.Sprintf("%s (%s, %s)", n.Description.Hostname, n.Status.Addr, Short(n.ID))
	}
	return names
}

// TaskName is "stack_app.2" (replicated) or "stack_app.<node>" (global).
func TaskName(service string, t swarm.Task) string {
	if t.Slot > 0 {
		return fmt.Sprintf("%s.%d", service, t.Slot)
	}
	return service + "." + Short(t.NodeID)
}

// FailedTasks describes the service's tasks that failed or were rejected,
// and those at image (the release being rolled to, "" for none) that no
// longer run (newest first, at most 5), each with its node: "\n  task
// s_app.2 (id) on node host (10.89.0.12, abc): failed: task: non-zero exit
// (1) (image ...)".
func FailedTasks(ctx context.Context, c client.APIClient, service, image string) (string, error) {
	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", service)})
	if err != nil {
		return "", err
	}
	nodes := nodeNames(ctx, c)
	sort.Slice(tasks.Items, func(i, j int) bool { return tasks.Items[i].Status.Timestamp.After(tasks.Items[j].Status.Timestamp) })
	var b strings.Builder
	n := 0
	for _, t := range tasks.Items {
		stopped := image != "" && sameImage(t.Spec.ContainerSpec.Image, image) && t.DesiredState != swarm.TaskStateRunning
		if t.Status.State != swarm.TaskStateFailed && t.Status.State != swarm.TaskStateRejected && t.Status.Err == "" && !stopped {
			continue
		}
		if n++; n > 5 {
			break
		}
		fmt.Fprintf(&b, "\n  task %s (%s) on node %s: %s: %s (image %s)", TaskName(service, t), Short(t.ID), nodes[t.NodeID], t.Status.State,
			joinLines([]string{t.Status.Err, t.Status.Message}), t.Spec.ContainerSpec.Image)
	}
	if n > 0 {
		fmt.Fprintf(&b, "\n  see `docker service ps %s --no-trunc` on the manager", service)
	}
	return b.String(), nil
}

// TaskState is a service's tasks as they run now.
type TaskState struct {
	Wanted  int      // replicas wanted (global: nodes that run one)
	Ready   int      // running the image, and healthy when it has a check
	Pending []string // the others that should run: "s_app.2 on node ...: starting (image ...)"
}

// Tasks says how many of a service's tasks run image and are ready, and
// lists the others: those that should run but do not yet (or at another
// image), and those told to stop that still run. Swarm reports a task whose
// container has a health check as running only once the check passed, so
// running means healthy.
func Tasks(ctx context.Context, c client.APIClient, service, image string) (TaskState, error) {
	res, err := c.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
	if err != nil {
		return TaskState{}, err
	}
	svc := res.Service
	if image == "" {
		image = svc.Spec.TaskTemplate.ContainerSpec.Image
	}
	all, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID)})
	if err != nil {
		return TaskState{}, err
	}
	var tasks client.TaskListResult
	var stopping []swarm.Task
	for _, t := range all.Items {
		switch {
		case t.DesiredState == swarm.TaskStateRunning:
			tasks.Items = append(tasks.Items, t)
		case t.Status.State == swarm.TaskStateRunning:
			// Told to stop (out of DNS already) but still running: it
			// stops within its grace, and until then may still answer.
			stopping = append(stopping, t)
		}
	}
	var st TaskState
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		st.Wanted = int(*r.Replicas)
	} else {
		st.Wanted = len(tasks.Items)
	}
	nodes := nodeNames(ctx, c)
	for _, t := range tasks.Items {
		img := t.Spec.ContainerSpec.Image
		if t.Status.State == swarm.TaskStateRunning && sameImage(img, image) {
			st.Ready++
			continue
		}
		st.Pending = append(st.Pending, fmt.Sprintf("%s (%s) on node %s: %s%s (image %s)", TaskName(svc.Spec.Name, t), Short(t.ID), nodes[t.NodeID],
			t.Status.State, prefixed(joinLines([]string{t.Status.Err, t.Status.Message})), img))
	}
	for _, t := range stopping {
		st.Pending = append(st.Pending, fmt.Sprintf("%s (%s) on node %s: still stopping (image %s)", TaskName(svc.Spec.Name, t), Short(t.ID), nodes[t.NodeID],
			t.Spec.ContainerSpec.Image))
	}
	sort.Strings(st.Pending)
	return st, nil
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// Remove removes a stack's services, then (once their tasks are gone) its
// networks and configs, as docker stack rm does; volumes stay (they live on
// each node, as with docker stack rm). It returns what it removed.
func Remove(ctx context.Context, c client.APIClient, stack string, check bool) ([]string, error) {
	var done []string
	svcs, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, err
	}
	for _, s := range svcs.Items {
		done = append(done, "service "+s.Spec.Name)
		if !check {
			if _, err := c.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil {
				return done, err
			}
		}
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return done, err
	}
	cfgs, err := c.ConfigList(ctx, client.ConfigListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return done, err
	}
	for _, n := range nets.Items {
		done = append(done, "network "+n.Name)
	}
	for _, cf := range cfgs.Items {
		done = append(done, "config "+cf.Spec.Name)
	}
	if check {
		return done, nil
	}
	// A network in use by a task still shutting down cannot go yet.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var errs []error
		for _, n := range nets.Items {
			if _, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !strings.Contains(strings.ToLower(err.Error()), "not found") {
				errs = append(errs, fmt.Errorf("network %s: %w", n.Name, err))
			}
		}
		for _, cf := range cfgs.Items {
			if _, err := c.ConfigRemove(ctx, cf.ID, client.ConfigRemoveOptions{}); err != nil && !strings.Contains(strings.ToLower(err.Error()), "not found") {
				errs = append(errs, fmt.Errorf("config %s: %w", cf.Spec.Name, err))
			}
		}
		if len(errs) == 0 {
			return done, nil
		}
		if time.Now().After(deadline) {
			return done, errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return done, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
