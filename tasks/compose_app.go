package tasks

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/rollout"
)

// ComposeApp reads a user's compose file and changes nothing: it checks that
// `service` can be replicated behind zdplay's proxy (it exists, has an image
// with a tag, no container_name), and answers with the deployment's values
// as typed outputs (NAME.outputs.KEY): each attribute the playbook leaves
// unset (0, "" or a negative number) takes the file's value, else a default.
//
//	replicas           -e replicas, else the service's deploy.replicas, else 2
//	services           the replicas' service names: SERVICE_1..SERVICE_N
//	version            -e version, else the tag in the file
//	image              the image repository (without the tag)
//	app_port           -e app_port, else the service's only expose/ports target
//	update_config      the rolling update's strategy, for a rollout's
//	                   update_config: each key of the update_config
//	                   attribute (parallelism, order, delay, monitor,
//	                   failure_action, max_failure_ratio) that is set, else
//	                   the service's deploy.update_config, else 1,
//	                   stop-first, 0s, 0s, rollback, 0
//	host_ports         the service's published ports (the proxy takes them over)
//	others             the other services, which provision brings up
//
// Its Validate runs before anything changes, so a file that does not load,
// a missing service or a container_name fails the run at once (exit 2).
//
//	task "compose_app" "app" {
//	  compose  = var.compose
//	  service  = var.service
//	  project  = local.project
//	  replicas = var.replicas   # 0: from the file
//	  update_config = { order = var.order } # "": from the file
//	  env      = { TAG = "2" }  # optional: the file's ${TAG}, over the environment
//	  register = "app"
//	}
type ComposeApp struct {
	Compose  string `hcl:"compose"`
	Service  string `hcl:"service"`
	Project  string `hcl:"project,optional"`
	Replicas int    `hcl:"replicas,optional"`
	Version  string `hcl:"version,optional"`
	AppPort  int    `hcl:"app_port,optional"`
	// UpdateConfig overrides the file's deploy.update_config, key by key:
	// a key unset (0, "" or, for max_failure_ratio, negative) takes the
	// file's value.
	UpdateConfig map[string]string `hcl:"update_config,optional"`
	// Env are values for the file's ${NAME} interpolation, over the
	// environment and .env (app.hcl's image and limits).
	Env map[string]string `hcl:"env,optional"`
}

var _ Task = (*ComposeApp)(nil)
var _ Validator = (*ComposeApp)(nil)

func init() { Register("compose_app", func() Task { return &ComposeApp{} }) }

// Validate loads the file and checks the service.
func (t *ComposeApp) Validate(*Env) error {
	_, err := t.outputs(context.Background())
	return err
}

// Check is Apply: it only reads.
func (t *ComposeApp) Check(ctx context.Context, env *Env) (Result, error) { return t.Apply(ctx, env) }

// Apply answers with the outputs.
func (t *ComposeApp) Apply(ctx context.Context, env *Env) (Result, error) {
	out, err := t.outputs(ctx)
	if err != nil {
		return Result{}, err
	}
	msg := fmt.Sprintf("%s: %d replica(s) of %s:%s listening on :%d", t.Service, out["replicas"], out["image"], out["version"], out["app_port"])
	if hp := out["host_ports"].([]string); len(hp) > 0 {
		msg += fmt.Sprintf("; its host ports (%s) are taken over by the proxy", strings.Join(hp, ", "))
	}
	return Result{Msg: msg, Outputs: out}, nil
}

func (t *ComposeApp) outputs(ctx context.Context) (map[string]any, error) {
	const kind = "compose_app"
	if err := composeRequire(kind, "compose", t.Compose, "service", t.Service); err != nil {
		return nil, err
	}
	_, app, err := docker.LoadApp(ctx, t.Compose, t.Project, t.Service, t.Env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	out := map[string]any{"project": app.Project, "image": app.Image, "file": app.File,
		"host_ports": append([]string{}, app.HostPorts...), "others": append([]string{}, app.Others...)}
	replicas := firstPositive(t.Replicas, app.Replicas, 2)
	version := cmp.Or(t.Version, app.Tag, "latest")
	port := firstPositive(t.AppPort, app.Port, 0)
	if port == 0 {
		return nil, fmt.Errorf("%s: service %s of %s does not say which port it listens on (it has no expose or ports target, or several): set -e app_port=N", kind, t.Service, filepath.Base(app.File))
	}
	out["replicas"], out["version"], out["app_port"] = replicas, version, port
	services := make([]string, replicas)
	for i := range services {
		services[i] = fmt.Sprintf("%s_%d", t.Service, i+1)
	}
	out["services"] = services
	update, err := t.updateConfig(app.Update)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	out["update_config"] = update
	return out, nil
}

// updateKeys are the keys of update_config, Compose's names.
var updateKeys = []string{"parallelism", "order", "delay", "monitor", "failure_action", "max_failure_ratio"}

// updateConfig is the strategy: the attribute's values that are set, else
// the file's, else the defaults.
func (t *ComposeApp) updateConfig(file *types.UpdateConfig) (map[string]any, error) {
	for k := range t.UpdateConfig {
		if !slices.Contains(updateKeys, k) {
			return nil, fmt.Errorf("update_config has no key %q; its keys are %s", k, strings.Join(updateKeys, ", "))
		}
	}
	if file == nil {
		file = &types.UpdateConfig{}
	}
	set := t.UpdateConfig
	parallelism, err := strconv.Atoi(cmp.Or(set["parallelism"], "0"))
	if err != nil {
		return nil, fmt.Errorf("update_config.parallelism: %q is not a whole number", set["parallelism"])
	}
	var fileParallelism int
	if file.Parallelism != nil {
		fileParallelism = int(*file.Parallelism)
	}
	ratio, err := strconv.ParseFloat(cmp.Or(set["max_failure_ratio"], "-1"), 64)
	if err != nil {
		return nil, fmt.Errorf("update_config.max_failure_ratio: %q is not a number", set["max_failure_ratio"])
	}
	if ratio < 0 {
		ratio = float64(file.MaxFailureRatio)
	}
	duration := func(d types.Duration) string {
		if d == 0 {
			return ""
		}
		return time.Duration(d).String()
	}
	s := rollout.Strategy{
		Parallelism:     firstPositive(parallelism, fileParallelism, 1),
		Order:           rollout.Order(cmp.Or(set["order"], file.Order, "stop-first")),
		FailureAction:   rollout.Action(cmp.Or(set["failure_action"], file.FailureAction, "rollback")),
		MaxFailureRatio: ratio,
	}
	// Checked here, before anything changes (compose_app is validated
	// before the run), rather than by the rollout once the stack is up.
	// delay and monitor are the rollout's to parse.
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("update_config: %w", err)
	}
	return map[string]any{
		"parallelism":       s.Parallelism,
		"order":             string(s.Order),
		"delay":             cmp.Or(set["delay"], duration(file.Delay), "0s"),
		"monitor":           cmp.Or(set["monitor"], duration(file.Monitor), "0s"),
		"failure_action":    string(s.FailureAction),
		"max_failure_ratio": ratio,
	}, nil
}

func firstPositive(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}
