# The same app on Docker Swarm: the app as one replicated service whose
# rolling update Swarm runs (update_config from the strategy variables), an
# nginx proxy published in host mode on the manager, and a redis db with a
# volume, kept on one node. Deployed over the Engine API of the manager at
# docker_host (unix://, tcp:// or ssh://; default DOCKER_HOST, else the
# local engine).
#
#   zdplay run playbooks/swarm.hcl -t provision -e docker_host=ssh://me@manager
#   zdplay run playbooks/swarm.hcl -t upgrade -e version=0.0.2
#   zdplay run playbooks/swarm.hcl -t rollback
#   zdplay run playbooks/swarm.hcl -t teardown
#
# Images are never pulled: every node must have them (docker load).

# The deployment's, the strategy's (Swarm's own update_config here) and the
# demo app's variables, with the defaults below where Swarm's differ:
# replicas are the app service's tasks; monitor is update_config.monitor,
# how long a new task is watched once it runs (healthy), where "" would
# mean Swarm's default, 5s. Unset, parallelism, delay and order are 1, 0s
# and stop-first.
import = ["deployment.vars.hcl", "update_config.vars.hcl", "demo.vars.hcl"]

defaults = {
  version           = "0.0.1"
  replicas          = 3
  project           = "zdplay-demo"
  dir               = ".zdplay/zdplay-demo-swarm"
  monitor           = "500ms"
  failure_action    = "rollback"
  max_failure_ratio = 0
}

variable "docker_host" {
  description = "the Swarm manager's Docker endpoint (unix://, tcp://, ssh://); empty: DOCKER_HOST, else the local engine"
  default     = ""
}
variable "db_constraint" {
  description = "the placement constraint that keeps the db (and its volume) on one node"
  default     = "node.role == manager"
}

locals {
  dir     = abspath(var.dir)
  stack   = "${local.dir}/stack.yml"
  conf    = "${local.dir}/nginx.conf"
  lock    = "${local.dir}/.zdplay.lock"
  app     = "${var.project}_app"
}

# Every task here talks to the manager at docker_host; the stack ones name
# the stack.
task_defaults {
  docker_host = var.docker_host
  stack       = var.project
}

play "swarm" {
  roles = ["stack", "stack_rollback", "stack_teardown"]
}

# stack: converge the stack to the variables, from whatever state it is in
# (nothing yet, an older release, a changed replica count or strategy).
# Tagged provision and upgrade: both are one operation. Swarm replaces the
# app's tasks by update_config; the task follows the update to its end and
# fails, naming the tasks and nodes that failed, when Swarm paused it or
# rolled it back. Converged, it changes nothing.
role "stack" {
  tags = ["provision", "upgrade"]

  task "lock" "stack" {
    path = local.lock
  }

  task "template" "nginx conf" {
    src  = "../templates/swarm-nginx.conf.tmpl"
    dest = local.conf
  }

  task "template" "stack file" {
    src  = "../templates/swarm-stack.yml.tmpl"
    dest = local.stack
  }

  task "swarm_deploy" "stack" {
    file = local.stack
  }

  task "swarm_wait" "db" {
    service = "${var.project}_db"
  }

  task "swarm_wait" "app" {
    service = local.app
    image   = "${var.image}:${var.version}"
  }

  task "swarm_wait" "proxy" {
    service = "${var.project}_proxy"
  }
}

# stack_rollback: return the app to its spec before the last update (Swarm's
# PreviousSpec), by rollback_config, and wait for it. Tagged never: -t
# rollback. The stack file still names the newer release: the next
# provision or upgrade converges to -e version again.
role "stack_rollback" {
  tags = ["never", "rollback"]

  task "lock" "stack" {
    path = local.lock
  }

  task "swarm_rollback" "app" {
    service = local.app
  }

  task "swarm_wait" "app" {
    service = local.app
  }
}

# stack_teardown: remove the stack's services, networks and configs, and
# dir. Named volumes stay on their node, as with docker stack rm. Tagged
# never: -t teardown.
role "stack_teardown" {
  tags = ["never", "teardown"]

  task "swarm_remove" "stack" {}

  task "file" "deploy dir" {
    path  = local.dir
    state = "absent"
  }
}
