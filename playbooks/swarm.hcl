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

variable "docker_host" {
  description = "the Swarm manager's Docker endpoint (unix://, tcp://, ssh://); empty: DOCKER_HOST, else the local engine"
  default     = ""
}
variable "image" {
  description = "the app's image repository (any image that serves :3000 and GET /ping)"
  default     = "zdplay-demo/app"
}
variable "version" {
  description = "the image tag to run"
  default     = "0.0.1"
}
variable "replicas" {
  description = "how many tasks of the app service"
  type        = number
  default     = 3
}
variable "port" {
  description = "the proxy's port, published in host mode on the manager node"
  type        = number
  default     = 8000
}
variable "project" {
  description = "the stack name"
  default     = "zdplay-demo"
}
variable "dir" {
  description = "where the rendered stack file and nginx conf go"
  default     = ".zdplay/zdplay-demo-swarm"
}
variable "proxy_image" {
  description = "nginx image (make images builds it from Debian's package)"
  default     = "zdplay-demo/nginx:local"
}
variable "db_image" {
  description = "redis image (make images builds it from Debian's package)"
  default     = "zdplay-demo/redis:local"
}
variable "db_constraint" {
  description = "the placement constraint that keeps the db (and its volume) on one node"
  default     = "node.role == manager"
}
variable "app_memory" {
  description = "memory limit of each app task"
  default     = "128m"
}
variable "app_cpus" {
  description = "CPU limit of each app task"
  type        = number
  default     = 1
}
variable "db_memory" {
  description = "memory limit of the db"
  default     = "256m"
}
variable "proxy_next_upstream" {
  description = "let nginx retry a request that found a task gone on the next address"
  type        = bool
  default     = true
}
variable "parallelism" {
  description = "update_config.parallelism: tasks replaced at once"
  type        = number
  default     = 1
}
variable "delay" {
  description = "update_config.delay: wait between two batches"
  default     = "0s"
}
variable "order" {
  description = "update_config.order: stop-first or start-first"
  default     = "stop-first"
}
variable "monitor" {
  description = "update_config.monitor: how long a new task is watched once it runs (healthy); a failure then still counts. 0s means Swarm's default, 5s"
  default     = "500ms"
}
variable "failure_action" {
  description = "update_config.failure_action: rollback, pause or continue"
  default     = "rollback"
}
variable "max_failure_ratio" {
  description = "update_config.max_failure_ratio: the share of tasks that may fail while the update goes on"
  type        = number
  default     = 0
}
variable "health_timeout" {
  description = "the app's health check start_period: how long a new task may take to turn healthy"
  default     = "60s"
}

locals {
  dir     = abspath(var.dir)
  stack   = "${local.dir}/stack.yml"
  conf    = "${local.dir}/nginx.conf"
  lock    = "${local.dir}/.zdplay.lock"
  app     = "${var.project}_app"
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
    file        = local.stack
    stack       = var.project
    docker_host = var.docker_host
  }

  task "swarm_wait" "db" {
    service     = "${var.project}_db"
    docker_host = var.docker_host
  }

  task "swarm_wait" "app" {
    service     = local.app
    image       = "${var.image}:${var.version}"
    docker_host = var.docker_host
  }

  task "swarm_wait" "proxy" {
    service     = "${var.project}_proxy"
    docker_host = var.docker_host
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
    service     = local.app
    docker_host = var.docker_host
  }

  task "swarm_wait" "app" {
    service     = local.app
    docker_host = var.docker_host
  }
}

# stack_teardown: remove the stack's services, networks and configs, and
# dir. Named volumes stay on their node, as with docker stack rm. Tagged
# never: -t teardown.
role "stack_teardown" {
  tags = ["never", "teardown"]

  task "swarm_remove" "stack" {
    stack       = var.project
    docker_host = var.docker_host
  }

  task "file" "deploy dir" {
    path  = local.dir
    state = "absent"
  }
}
