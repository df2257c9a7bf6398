# rollout: the replicas (local.services) to local.rolling_to behind the nginx
# proxy, a batch at a time, with the strategy of Compose's update_config.
# The engine decides (a dead or missing replica first; then the outdated
# ones, never draining below replicas - parallelism serving; on a failure,
# failure_action); these are the steps it runs for each decision. Included
# by deploy and rollback with the locals rolling_to, fallback, parallelism,
# order, delay, monitor, failure_action and max_failure_ratio.
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
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = rollout.release, services = rollout.services }
    }
    task "compose_replicas" "replicas" {
      file     = local.compose
      project  = var.project
      services = rollout.services
    }
  }

  # The batch (or the replicas to retire) out of the upstream; the reload
  # returns once nginx's old workers are gone, so nothing reaches them.
  # With var.proxy = "haproxy", no reload: haproxy_upstream drains them over
  # the runtime API and returns once their sessions are 0.
  drain {
    task "template" "drain" {
      when = var.proxy == "nginx"
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { upstream = rollout.upstream }
    }
    task "compose_up" "proxy" {
      file     = local.compose
      project  = var.project
      services = ["proxy"]
    }
    task "haproxy_upstream" "drain" {
      when     = var.proxy == "haproxy"
      socket   = local.haproxy_socket
      upstream = rollout.upstream
    }
    task "proxy_reload" "drain" {
      when    = var.proxy == "nginx"
      file    = local.compose
      project = var.project
      conf    = local.conf
    }
  }

  # A container left over by a killed run is removed first; a replica that
  # runs but fails its checks is recreated even if its definition did not
  # change.
  replace {
    task "compose_recreate" "recreate" {
      file     = local.compose
      project  = var.project
      services = rollout.batch
      force    = rollout.force
    }
    block "healthy" {
      for_each = rollout.batch
      parallel = true

      task "wait_healthy" "healthy" {
        file    = local.compose
        project = var.project
        service = each.value
        timeout = var.health_timeout
        monitor = rollout.monitor
      }
    }
  }

  # Every healthy replica in the upstream. Takes no server out, so it need
  # not wait for nginx's old workers (the next drain does), unless they
  # may have none to send to (a heal: every replica was down, or new).
  undrain {
    task "haproxy_upstream" "undrain" {
      when     = var.proxy == "haproxy"
      socket   = local.haproxy_socket
      upstream = rollout.upstream
    }
    task "template" "undrain" {
      when = var.proxy == "nginx"
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { upstream = rollout.upstream }
    }
    task "proxy_reload" "undrain" {
      when             = var.proxy == "nginx"
      file             = local.compose
      project          = var.project
      conf             = local.conf
      wait_old_workers = rollout.heal
    }
  }

  # Replicas the compose file no longer lists (a surge, a lower replica
  # count), once drained.
  retire {
    task "compose_remove" "retired" {
      file    = local.compose
      project = var.project
      orphans = true
    }
  }
}
