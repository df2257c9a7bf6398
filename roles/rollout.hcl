# rollout: the replicas (param.services) to param.rolling_to behind the
# proxy (nginx or HAProxy: the proxy kind's business), a batch at a time,
# with the strategy of Compose's update_config.
# The engine decides (a dead or missing replica first; then the outdated
# ones, never draining below replicas - parallelism serving; on a failure,
# failure_action); these are the steps it runs for each decision. A module:
# included by compose.hcl's compose_deploy and compose_rollback (app.hcl is
# compose.hcl) with these params.

# The deployment, one object: project, dir (the proxy's files go in
# DIR/nginx or DIR/haproxy), compose (the stack file), env (the compose
# file's ${NAME} values), port, proxy (nginx or haproxy), proxy_image,
# haproxy_image, health_timeout and the values the proxy's templates read
# (proxy_next_upstream, slots).
param "stack" {}
param "rolling_to" {} # the release to roll every replica to
param "fallback" {}   # the release a failure returns to (rolling_to: none)
param "services" { type = list(string) }
param "parallelism" { default = 1 }
param "order" { default = "stop-first" }
param "delay" { default = "0s" }
param "monitor" { default = "0s" }
param "failure_action" { default = "rollback" }
param "max_failure_ratio" { default = 0 }
param "app_port" { default = 3000 }      # where a replica listens in its container
param "health_path" { default = "/ping" } # what answers 200 once a replica is ready
# The user's compose file, rendered with its service as the replicas.
param "compose" {}
param "service" {}
param "migrate" {
  type    = list(string)
  default = []
}

vars = {
  project = param.stack.project
  compose = param.stack.compose
  proxy   = param.stack.proxy
}

rollout "replicas" {
  replicas          = param.services
  release           = param.rolling_to
  fallback          = param.fallback
  parallelism       = param.parallelism
  order             = param.order
  delay             = param.delay
  monitor           = param.monitor
  failure_action    = param.failure_action
  max_failure_ratio = param.max_failure_ratio

  # Before every decision: the compose file at rollout.release with
  # rollout.services (a start-first surge among them), and where each
  # replica stands.
  observe {
    task "compose_render" "compose file" {
      compose       = param.compose
      service       = param.service
      project       = local.project
      replicas      = rollout.services
      version       = rollout.release
      dest          = local.compose
      port          = param.stack.port
      proxy         = local.proxy
      proxy_image   = param.stack.proxy_image
      haproxy_image = param.stack.haproxy_image
      proxy_dir     = "${param.stack.dir}/${local.proxy}"
      migrate       = param.migrate
      env           = param.stack.env
    }
    task "compose_replicas" "replicas" {
      file     = local.compose
      project  = local.project
      services = rollout.services
      path     = param.health_path
      port     = param.app_port
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
      dir         = param.stack.dir
      templates   = "${path.role}/../templates"
      vars        = param.stack
      project     = local.project
      upstream    = rollout.upstream
      port        = param.app_port
      health_path = param.health_path
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
        timeout = param.stack.health_timeout
        monitor = rollout.monitor
        path    = param.health_path
        port    = param.app_port
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
      dir         = param.stack.dir
      templates   = "${path.role}/../templates"
      vars        = param.stack
      project     = local.project
      upstream    = rollout.upstream
      port        = param.app_port
      health_path = param.health_path
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
