# rollout: the replicas (local.services) to local.rolling_to behind the
# proxy (nginx or HAProxy: the proxy kind's business), a batch at a time,
# with the strategy of Compose's update_config.
# The engine decides (a dead or missing replica first; then the outdated
# ones, never draining below replicas - parallelism serving; on a failure,
# failure_action); these are the steps it runs for each decision. Shared by
# app.hcl (deploy, rollback) and compose.hcl (compose_deploy,
# compose_rollback), which include it with the params below; from the
# playbook it reads local.project, local.dir (the proxy's files go in
# DIR/nginx or DIR/haproxy), local.compose (the stack file), var.port,
# var.proxy_image, var.haproxy_image and var.health_timeout.

param "rolling_to" {
  description = "the release to roll every replica to"
}
param "fallback" {
  description = "the release a failure returns to (the same as rolling_to: none)"
}
param "services" {
  type        = list(string)
  description = "the replica services, in order"
}
param "parallelism" {
  type    = number
  default = 1
}
param "order" {
  default = "stop-first"
}
param "delay" {
  default = "0s"
}
param "monitor" {
  default = "0s"
}
param "failure_action" {
  default = "rollback"
}
param "max_failure_ratio" {
  type    = number
  default = 0
}
param "app_port" {
  type        = number
  default     = 3000
  description = "where a replica listens inside its container"
}
param "health_path" {
  default     = "/ping"
  description = "what answers 200 when a replica is ready"
}
param "user_compose" {
  default     = ""
  description = "\"\": the stack is templates/docker-compose.yml.tmpl (app.hcl); else the user's compose file, rendered with its service as the replicas"
}
param "service" {
  default     = ""
  description = "the user's service (compose.hcl)"
}
param "proxy" {
  description = "nginx or haproxy: which one the proxy tasks drive"
}
param "migrate" {
  type        = list(string)
  default     = []
  description = "its migration argv (compose.hcl)"
}

rollout "replicas" {
  replicas          = local.services
  release           = local.rolling_to
  fallback          = local.fallback
  parallelism       = local.parallelism
  order             = local.order
  delay             = local.delay
  monitor           = local.monitor
  failure_action    = local.failure_action
  max_failure_ratio = local.max_failure_ratio

  # Before every decision: the compose file at rollout.release with
  # rollout.services (a start-first surge among them), and where each
  # replica stands.
  observe {
    task "template" "compose file" {
      when = local.user_compose == ""
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = rollout.release, services = rollout.services }
    }
    task "compose_render" "stack" {
      when        = local.user_compose != ""
      compose     = local.user_compose
      service     = local.service
      project     = local.project
      replicas    = rollout.services
      version     = rollout.release
      dest        = local.compose
      port        = var.port
      proxy         = local.proxy
      proxy_image   = var.proxy_image
      haproxy_image = var.haproxy_image
      proxy_dir     = "${local.dir}/${local.proxy}"
      migrate       = local.migrate
    }
    task "compose_replicas" "replicas" {
      file     = local.compose
      project  = local.project
      services = rollout.services
      path     = local.health_path
      port     = local.app_port
    }
  }

  # The batch (or the replicas to retire) out of the upstream, returning
  # once nothing reaches them: nginx renders, tests and reloads its conf and
  # waits for its old workers; HAProxy drains them over its runtime API (no
  # reload) until their sessions are 0.
  drain {
    task "compose_up" "proxy" {
      file     = local.compose
      project  = local.project
      services = ["proxy"]
    }
    task "proxy" "drain" {
      proxy       = local.proxy
      action      = "drain"
      dir         = local.dir
      templates   = "../templates"
      project     = local.project
      upstream    = rollout.upstream
      port        = local.app_port
      health_path = local.health_path
    }
  }

  # A container left over by a killed run is removed first; a replica that
  # runs but fails its checks is recreated even if its definition did not
  # change.
  replace {
    task "compose_recreate" "recreate" {
      file     = local.compose
      project  = local.project
      services = rollout.batch
      force    = rollout.force
    }
    block "healthy" {
      for_each = rollout.batch
      parallel = true

      task "wait_healthy" "healthy" {
        file    = local.compose
        project = local.project
        service = each.value
        timeout = var.health_timeout
        monitor = rollout.monitor
        path    = local.health_path
        port    = local.app_port
      }
    }
  }

  # Every healthy replica in the upstream. Takes no server out, so nginx
  # need not wait for its old workers (the next drain does), unless they
  # may have none to send to (a heal: every replica was down, or new).
  undrain {
    task "proxy" "undrain" {
      proxy       = local.proxy
      action      = "undrain"
      dir         = local.dir
      templates   = "../templates"
      project     = local.project
      upstream    = rollout.upstream
      port        = local.app_port
      health_path = local.health_path
      settle      = rollout.heal
    }
  }

  # Replicas the compose file no longer lists (a surge, a lower replica
  # count), once drained.
  retire {
    task "compose_remove" "retired" {
      file    = local.compose
      project = local.project
      orphans = true
    }
  }
}
