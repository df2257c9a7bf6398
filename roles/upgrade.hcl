# upgrade: move every replica to var.version, a batch of var.parallelism
# replicas at a time (Swarm's update parallelism; 1 by default), so that the
# others keep serving: drain the batch in nginx, recreate it, wait until each
# of it is healthy (and stays so for var.monitor), put it back, wait
# var.delay before the next batch. Replicas already at the release are not
# touched.
#
# var.order is Swarm's update order: "stop-first" (the default) as above;
# "start-first" first brings up as many surge replicas as a batch, at the
# new release, and puts them in service, so the proxy never has fewer than
# var.replicas replicas to send to, even with one replica; they are removed
# when every replica runs the release.
#
# If a batch does not turn healthy, it goes back to the release recorded by
# the last good run. While the failed replicas are within
# var.max_failure_ratio of all (0 by default), the upgrade goes on with the
# next batch and fails at the end, naming them. Past it, var.failure_action
# says what follows: "rollback" (the default) returns every replica to that
# release, the same way, and fails saying so; "pause" leaves the batch
# drained, the other replicas serving, and fails saying how to go on;
# "continue" goes on whatever the ratio.
#
# Interrupted (Ctrl-C, kill -9, a lost machine), it is resumed by running it
# again. The steps are the rollout role's (roles/rollout.hcl), shared with
# the rollback role.
tags = ["upgrade"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "assert" "strategy" {
  that = [
    var.parallelism >= 1,
    contains(["stop-first", "start-first"], var.order),
    contains(["rollback", "pause", "continue"], var.failure_action),
    var.max_failure_ratio >= 0 && var.max_failure_ratio <= 1,
    can(regex("^[0-9.]+(ms|s|m)$", var.delay)),
    can(regex("^[0-9.]+(ms|s|m)$", var.monitor)),
  ]
  fail_msg = "invalid strategy: parallelism must be 1 or more, order \"stop-first\" or \"start-first\", failure_action \"rollback\", \"pause\" or \"continue\", max_failure_ratio from 0 to 1, delay and monitor durations such as \"500ms\" or \"5s\""
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

# Fails before anything is drained when an image is missing, the rendered
# file is invalid or the daemon does not answer.
task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

include "rollout" {
  vars = {
    rolling_to        = var.version
    batches           = chunklist(local.services, var.parallelism)
    delay             = var.delay
    monitor           = var.monitor
    failure_action    = var.failure_action
    max_failure_ratio = var.max_failure_ratio
    fallback          = local.previous
    surge             = var.order == "start-first" ? [for i in range(min(var.parallelism, var.replicas)) : "surge_${i + 1}"] : []
  }
}

include "record_release" {}
