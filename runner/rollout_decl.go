package runner

// blockRollout is the rolling update as a construct of the language: the
// engine decides the batches (internal/rollout), the playbook's own steps do
// the work, one phase block each.
const blockRollout = "rollout"

// The phases of a rollout block, run by the engine when it needs them:
//
//	observe  render the stack's files for rollout.release and
//	         rollout.services, then look at the replicas (compose_replicas):
//	         before every decision
//	drain    take rollout.upstream's down servers out of the proxy
//	replace  recreate rollout.batch and wait until each is healthy
//	undrain  put rollout.upstream back in the proxy
//	retire   remove the replicas the compose file no longer lists
const (
	phaseObserve = "observe"
	phaseDrain   = "drain"
	phaseReplace = "replace"
	phaseUndrain = "undrain"
	phaseRetire  = "retire"
)

var rolloutPhases = []string{phaseObserve, phaseDrain, phaseReplace, phaseUndrain, phaseRetire}

// strategyAttrs are the strategy's attributes, in Compose's
// deploy.update_config names.
var strategyAttrs = []string{"parallelism", "order", "delay", "monitor", "failure_action", "max_failure_ratio"}

// rolloutAttrs are a rollout's attributes: what it rolls, to which release,
// and the strategy, one attribute each or as one update_config object of
// the same names (compose_app's outputs.update_config), which the single
// attributes override.
var rolloutAttrs = append([]string{"replicas", "release", "fallback", attrUpdateConfig}, strategyAttrs...)

const attrUpdateConfig = "update_config"

var rolloutConstruct = &construct{
	kind:        blockRollout,
	attrs:       rolloutAttrs,
	required:    []string{"replicas", "release"},
	phases:      rolloutPhases,
	needs:       []string{phaseObserve, phaseReplace},
	needsDetail: "A rollout needs an observe block (render the files, then a compose_replicas task) and a replace block (recreate rollout.batch, wait until healthy); drain, undrain and retire are optional.",
	values:      rolloutValueAttrs,
	check: func(ex *executor, g *Group, f frame) error {
		_, err := ex.evalRollout(g, f)
		return err
	},
}
