# rollout: the replicas to their release behind the proxy (nginx or
# HAProxy: the proxy kind's business), a batch at a time, with the strategy
# of Compose's update_config. The engine decides (a dead or missing replica
# first; then the outdated ones, never draining below replicas -
# parallelism serving; on a failure, failure_action); these are the steps it
# runs for each decision. A module: included by compose.hcl's
# compose_deploy (app.hcl is compose.hcl), or by name from any playbook.

# The deployment, one object: the user's compose file (source) and its
# service, project, dir (the proxy's files go in DIR/nginx or
# DIR/haproxy), compose (the stack file zdplay renders), env (the file's
# ${NAME} values), port (the proxy's on 127.0.0.1), proxy (nginx or
# haproxy), proxy_image, haproxy_image, health_path, health_timeout,
# migrate, and what the proxy's templates read (proxy_next_upstream,
# slots). Any other attribute is dropped: the module sees only these.
param "stack" {
  description = "the deployment: compose file, service, project, dirs, proxy and health check"
  type = object({
    source = string, service = string, project = string, dir = string, compose = string, env = map(string),
    port = number, proxy = string, proxy_image = string, haproxy_image = string, health_path = string,
    health_timeout = string, migrate = list(string), proxy_next_upstream = bool, slots = number
  })
}
param "app" {
  description = "compose_app's outputs: services (the replicas), version (the release to roll them to), app_port and update_config (the strategy)"
  type        = object({ services = list(string), version = string, app_port = number, update_config = any })
}
param "fallback" {
  description = "the release a failure returns to"
  type        = string
}

rollout "replicas" {
  replicas      = param.app.services
  release       = param.app.version
  fallback      = param.fallback
  update_config = param.app.update_config

  # What the phases' tasks all say: the stack's files and project, the
  # proxy, and the app's port and health path.
  task_defaults {
    file        = param.stack.compose
    project     = param.stack.project
    proxy       = param.stack.proxy
    dir         = param.stack.dir
    templates   = "${path.role}/../templates"
    vars        = param.stack
    upstream    = rollout.upstream
    port        = param.app.app_port
    path        = param.stack.health_path
    health_path = param.stack.health_path
  }

  # Before every decision: the compose file at rollout.release with
  # rollout.services (a start-first surge among them), and where each
  # replica stands.
  observe {
    task "compose_render" "compose file" {
      compose       = param.stack.source
      service       = param.stack.service
      replicas      = rollout.services
      version       = rollout.release
      dest          = param.stack.compose
      proxy_port    = param.stack.port
      proxy_image   = param.stack.proxy_image
      haproxy_image = param.stack.haproxy_image
      proxy_dir     = "${param.stack.dir}/${param.stack.proxy}"
      migrate       = param.stack.migrate
      env           = param.stack.env
    }
    task "compose_replicas" "replicas" {
      services = rollout.services
    }
  }

  # The batch (or the replicas to retire) out of the upstream, returning
  # once nothing reaches them: nginx renders, tests and reloads its conf and
  # waits for its old workers; HAProxy drains them over its runtime API (no
  # reload) until their sessions are 0.
  drain {
    task "compose_up" "proxy" {
      services = ["proxy"]
    }
    task "proxy" "drain" {
      action = "drain"
    }
  }

  # A container left over by a killed run is removed first; a replica that
  # runs but fails its checks is recreated even if its definition did not
  # change.
  replace {
    task "compose_recreate" "recreate" {
      services = rollout.batch
      force    = rollout.force
    }
    block "healthy" {
      for_each = rollout.batch
      parallel = true

      task "wait_healthy" "healthy" {
        service = each.value
        timeout = param.stack.health_timeout
        monitor = rollout.monitor
      }
    }
  }

  # Every healthy replica in the upstream. Takes no server out, so nginx
  # need not wait for its old workers (the next drain does), unless they
  # may have none to send to (a heal: every replica was down, or new).
  undrain {
    task "proxy" "undrain" {
      action = "undrain"
      settle = rollout.heal
    }
  }

  # Replicas the compose file no longer lists (a surge, a lower replica
  # count), once drained.
  retire {
    task "compose_remove" "retired" {
      orphans = true
    }
  }
}
