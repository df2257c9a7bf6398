package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/internal/bluegreen"
	"github.com/zdplay/zdplay/internal/rollout"
)

// blockBlueGreen is blue-green (seed 003) as a construct of the language:
// the engine reads the state files, decides which colour goes where and
// records it (internal/bluegreen); the playbook's own steps do the work.
const blockBlueGreen = "bluegreen"

// Its phases, run by the engine when it needs them:
//
//	render   render the compose file for bluegreen.colours (colour ->
//	         release: the colours that are to exist) and check it
//	up       bring up bluegreen.services, one colour's replicas
//	healthy  wait until each of bluegreen.services is healthy: the gate
//	         no switch passes without
//	observe  look at bluegreen.services (compose_replicas)
//	switch   the proxy: bluegreen.upstream's replicas of bluegreen.colour
//	         in, the others down
//	retire   remove bluegreen.services, the idle colour's replicas
const (
	phaseRender  = "render"
	phaseUp      = "up"
	phaseHealthy = "healthy"
	phaseSwitch  = "switch"
)

// The actions of a bluegreen block, one per operation of seed 003.
const (
	bgProvision  = "provision"
	bgDeploy     = "deploy"
	bgSwitchback = "switchback"
	bgRetire     = "retire"
)

var blueGreenActions = []string{bgProvision, bgDeploy, bgSwitchback, bgRetire}

var blueGreenConstruct = &construct{
	kind:        blockBlueGreen,
	attrs:       []string{"action", "colours", "release", "state"},
	required:    []string{"action", "colours", "release", "state"},
	phases:      []string{phaseRender, phaseUp, phaseHealthy, phaseObserve, phaseSwitch, phaseRetire},
	needs:       []string{phaseRender, phaseUp, phaseHealthy, phaseObserve, phaseSwitch},
	needsDetail: "A bluegreen block needs render (the compose file for bluegreen.colours), up (bring up bluegreen.services), healthy (wait for each of them), observe (a compose_replicas task) and switch (the proxy to bluegreen.upstream) blocks; retire is needed by action retire only.",
	values:      []string{"colour", "colours", "services", "upstream"},
	check: func(ex *executor, g *Group, f frame) error {
		_, err := ex.evalBlueGreen(g, f)
		return err
	},
}

// blueGreenRun is one execution of a bluegreen block.
type blueGreenRun struct {
	constructRun
	action  string
	release string
	colours map[string][]string // colour -> its replicas' services
	state   bluegreen.State
	changed bool     // a state file was (or, in --check, would be) written
	did     []string // what it did, for its recap line
}

// runBlueGreen runs the block's action:
//
//	provision   the live colour (the first, at release, on a fresh dir)
//	            up, then the proxy on it once it is healthy
//	deploy      the proxy on the recorded live colour (what resumes a run
//	            interrupted between a switch and its record), then, unless
//	            release is live, the idle colour up at release beside it
//	            and, once each of its replicas is healthy, the switch; if it
//	            does not turn healthy the proxy is never switched
//	switchback  the switch to the idle colour, once it is checked: it runs
//	            its recorded release and is healthy
//	retire      the idle colour drained and removed
func (ex *executor) runBlueGreen(ctx context.Context, g *Group, f frame) error {
	b := &blueGreenRun{constructRun: newConstructRun(ex, g, f)}
	if err := b.eval(); err != nil {
		return b.fail(err.Error())
	}
	// Every action starts from the compose file of the recorded state.
	err := b.render(ctx, b.state.Existing())
	switch {
	case err != nil:
	case b.action == bgProvision:
		err = b.provision(ctx)
	case b.action == bgDeploy:
		err = b.deploy(ctx)
	case b.action == bgSwitchback:
		err = b.switchback(ctx)
	case b.action == bgRetire:
		err = b.retire(ctx)
	}
	if err != nil {
		return err
	}
	return b.done()
}

// eval evaluates the block's attributes and reads the state.
func (b *blueGreenRun) eval() error {
	spec, err := b.ex.evalBlueGreen(b.g, b.f)
	if err != nil {
		return err
	}
	b.action, b.colours, b.release = spec.action, spec.colours, spec.release
	b.state, err = bluegreen.Read(spec.dir, spec.names, spec.release)
	return err
}

// blueGreenSpec is a bluegreen block's attributes, evaluated.
type blueGreenSpec struct {
	action, release, dir string
	colours              map[string][]string
	names                [2]string // the colours, by name
}

// evalBlueGreen evaluates and checks a bluegreen block's attributes;
// preflight calls it too when they are known before the run.
func (ex *executor) evalBlueGreen(g *Group, f frame) (blueGreenSpec, error) {
	var s blueGreenSpec
	ctx := ex.evalContext(f)
	for name, into := range map[string]any{"action": &s.action, "colours": &s.colours, "release": &s.release, "state": &s.dir} {
		if diags := gohcl.DecodeExpression(g.Phased.Attrs[name], ctx, into); diags.HasErrors() {
			return s, diagError(diags)
		}
	}
	if !slices.Contains(blueGreenActions, s.action) {
		return s, attrError(g.Phased.Attrs["action"], fmt.Sprintf("action = %q: it is %s", s.action, strings.Join(blueGreenActions, ", ")))
	}
	names := slices.Sorted(maps.Keys(s.colours))
	if len(names) != 2 || len(s.colours[names[0]]) == 0 || len(s.colours[names[1]]) == 0 {
		return s, attrError(g.Phased.Attrs["colours"], "colours maps two colours to their replicas' services, e.g. { blue = [\"blue_1\"], green = [\"green_1\"] }")
	}
	s.names = [2]string{names[0], names[1]}
	if s.action == bgRetire && len(g.Phased.Phases[phaseRetire]) == 0 {
		return s, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing retire block",
			Detail: "action retire removes the idle colour: give the bluegreen block a retire block (compose_remove bluegreen.services).", Subject: g.DeclRange.Ptr()}})
	}
	return s, nil
}

func (b *blueGreenRun) provision(ctx context.Context) error {
	s := b.state
	if err := b.phase(ctx, phaseUp, bgValue{colour: s.Live, services: b.colours[s.Live]}); err != nil {
		return err
	}
	return b.switchTo(ctx, s.Live, s.LiveRelease(), s.Existing())
}

func (b *blueGreenRun) deploy(ctx context.Context) error {
	s := b.state
	live, idle := s.Live, s.Idle()
	if err := b.switchTo(ctx, live, s.LiveRelease(), s.Existing()); err != nil {
		return err
	}
	if b.release == s.LiveRelease() {
		b.did = append(b.did, fmt.Sprintf("%s already live on %s", b.release, live))
		return nil
	}
	colours := bluegreen.With(s.Existing(), idle, b.release)
	if err := b.render(ctx, colours); err != nil {
		return err
	}
	if err := b.record(bluegreen.File{Name: bluegreen.ReleaseFile(idle), Value: b.release}); err != nil {
		return err
	}
	v := bgValue{colour: idle, services: b.colours[idle]}
	if err := b.phase(ctx, phaseUp, v); err != nil {
		return err
	}
	if err := b.phase(ctx, phaseHealthy, v); err != nil {
		// A task of the gate failed: the release's failure. Anything else
		// (an interrupt) is passed on as it is, as the rollout does.
		var failed *TaskFailedError
		if !errors.As(err, &failed) {
			return err
		}
		return b.fail(fmt.Sprintf("release %s did not turn healthy on %s (see the failed task above): the proxy was not switched, %s (%s) still serves every request; %s is left as it is for inspection, -t retire removes it",
			b.release, idle, live, s.LiveRelease(), idle))
	}
	return b.switchTo(ctx, idle, b.release, colours) // its gate passes at once
}

func (b *blueGreenRun) switchback(ctx context.Context) error {
	s := b.state
	live, idle := s.Live, s.Idle()
	if s.IdleRelease() == "" {
		return b.fail(fmt.Sprintf("there is no colour to switch back to: %s was never deployed or was retired (%s is absent); %s (%s) stays live",
			idle, bluegreen.ReleaseFile(idle), live, s.LiveRelease()))
	}
	obs, err := b.observe(ctx, b.colours[idle])
	if err != nil {
		return err
	}
	if why := bluegreen.NotAsRecorded(obs, b.colours[idle]); len(why) > 0 {
		return b.fail(fmt.Sprintf("%s does not run its recorded release %s (%s): not switched, %s (%s) stays live",
			idle, s.IdleRelease(), strings.Join(why, "; "), live, s.LiveRelease()))
	}
	return b.switchTo(ctx, idle, s.IdleRelease(), s.Existing())
}

func (b *blueGreenRun) retire(ctx context.Context) error {
	s := b.state
	live, idle := s.Live, s.Idle()
	// The proxy on the live colour before the idle one is stopped.
	if err := b.switchTo(ctx, live, s.LiveRelease(), s.Existing()); err != nil {
		return err
	}
	if err := b.phase(ctx, phaseRetire, bgValue{colour: idle, services: b.colours[idle]}); err != nil {
		return err
	}
	forgot, err := bluegreen.Forget(s.Dir, idle, b.ex.opts.Check)
	if err != nil {
		return b.fail(err.Error())
	}
	delete(b.state.Releases, idle)
	if forgot {
		b.changed = true
		b.did = append(b.did, "retired "+idle)
	}
	only := map[string]string{live: s.LiveRelease()}
	if err := b.render(ctx, only); err != nil {
		return err
	}
	// Once it is gone, the proxy forgets it.
	return b.switchTo(ctx, live, s.LiveRelease(), only)
}

func (b *blueGreenRun) render(ctx context.Context, colours map[string]string) error {
	return b.phase(ctx, phaseRender, bgValue{colours: colours})
}

// switchTo sends every request to colour once each of its replicas is
// healthy, then records it live: every replica of colour in the proxy,
// every other replica of the colours that exist out.
func (b *blueGreenRun) switchTo(ctx context.Context, colour, release string, existing map[string]string) error {
	v := bgValue{colour: colour, services: b.colours[colour], colours: existing}
	if err := b.phase(ctx, phaseHealthy, v); err != nil {
		return err
	}
	services := slices.Clone(b.colours[colour])
	for _, c := range slices.Sorted(maps.Keys(existing)) {
		if c != colour {
			services = append(services, b.colours[c]...)
		}
	}
	obs, err := b.observe(ctx, services)
	if err != nil {
		return err
	}
	v.upstream = bluegreen.Upstream(obs, b.colours[colour])
	if err := b.phase(ctx, phaseSwitch, v); err != nil {
		return err
	}
	if colour != b.state.Live || release != b.state.LiveRelease() {
		b.did = append(b.did, fmt.Sprintf("switched to %s at %s", colour, release))
	}
	b.state.Live = colour
	b.state.Releases[colour] = release
	return b.record(bluegreen.Switched(colour, release)...)
}

// observe runs the observe phase for services and returns what it saw.
func (b *blueGreenRun) observe(ctx context.Context, services []string) (rollout.Observation, error) {
	return b.constructRun.observe(ctx, bgValue{services: services}.cty())
}

// phase runs one phase's steps with v as bluegreen.*; the recap labels
// them with the colour.
func (b *blueGreenRun) phase(ctx context.Context, name string, v bgValue) error {
	return b.runPhase(ctx, name, v.cty(), v.colour)
}

// record writes state files (in --check: says it would).
func (b *blueGreenRun) record(files ...bluegreen.File) error {
	changed, err := bluegreen.Write(b.state.Dir, files, b.ex.opts.Check)
	if err != nil {
		return b.fail(err.Error())
	}
	b.changed = b.changed || changed
	return nil
}

// done records the block's own recap line: changed when it wrote state.
func (b *blueGreenRun) done() error {
	res := b.result()
	s := b.state
	res.Status = StatusOK
	res.Msg = fmt.Sprintf("%s live at %s", s.Live, s.LiveRelease())
	if idle := s.IdleRelease(); idle != "" {
		res.Msg += fmt.Sprintf(", %s idle at %s", s.Idle(), idle)
	}
	if len(b.did) > 0 {
		res.Msg += ": " + strings.Join(b.did, "; ")
	}
	if b.changed {
		res.Status = StatusChanged
	}
	if b.ex.opts.Check && b.changed {
		res.Msg = "would change the state: " + res.Msg
	}
	b.ex.finish(b.decl(), res, b.f)
	return nil
}

// bgValue is bluegreen.* in a phase.
type bgValue struct {
	colour   string
	colours  map[string]string
	services []string
	upstream []rollout.Server
}

func (v bgValue) cty() cty.Value {
	colours := map[string]cty.Value{}
	for _, c := range slices.Sorted(maps.Keys(v.colours)) {
		colours[c] = cty.StringVal(v.colours[c])
	}
	return cty.ObjectVal(map[string]cty.Value{
		"colour":   cty.StringVal(v.colour),
		"colours":  cty.ObjectVal(colours),
		"services": stringList(v.services),
		"upstream": upstreamValue(v.upstream),
	})
}
