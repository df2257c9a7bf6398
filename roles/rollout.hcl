# rollout: the replicas (param.services) to param.rolling_to behind the
# proxy, a batch at a time, with the strategy of Compose's update_config.
# The engine decides (a dead or missing replica first; then the outdated
# ones, never draining below replicas - parallelism serving; on a failure,
# failure_action); these are the steps it runs for each decision. A module:
# shared by app.hcl (deploy, rollback) and compose.hcl (compose_deploy,
# compose_rollback), which include it with these params.

# The deployment, one object: project, dir, compose (the stack file), conf
# (nginx's), port, proxy_image, health_timeout and proxy_next_upstream;
# templates/docker-compose.yml.tmpl reads its other keys (image, ...).
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
# "" (app.hcl): the stack is templates/docker-compose.yml.tmpl; else the
# user's compose file, rendered with its service as the replicas.
param "user_compose" { default = "" }
param "service" { default = "" }
param "migrate" {
  type    = list(string)
  default = []
}
# nginx (conf rendered, reloaded) or haproxy (servers set over its runtime
# API at haproxy_socket, no reload).
param "proxy" { default = "nginx" }
param "haproxy_socket" { default = "" }

vars = {
  project = param.stack.project
  compose = param.stack.compose
  conf    = param.stack.conf
  nginx   = param.proxy == "nginx"
  haproxy = param.proxy == "haproxy"
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
    task "template" "compose file" {
      when = param.user_compose == ""
      src  = "${path.role}/../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = merge(param.stack, { version = rollout.release, services = rollout.services })
    }
    task "compose_render" "stack" {
      when        = param.user_compose != ""
      compose     = param.user_compose
      service     = param.service
      project     = local.project
      replicas    = rollout.services
      version     = rollout.release
      dest        = local.compose
      port        = param.stack.port
      proxy_image = param.stack.proxy_image
      proxy_conf  = "${param.stack.dir}/nginx"
      migrate     = param.migrate
    }
    task "compose_replicas" "replicas" {
      file     = local.compose
      project  = local.project
      services = rollout.services
      path     = param.health_path
      port     = param.app_port
    }
  }

  # The batch (or the replicas to retire) out of the upstream; the reload
  # returns once nginx's old workers are gone, so nothing reaches them.
  # With proxy = "haproxy", no reload: haproxy_upstream drains them over
  # the runtime API and returns once their sessions are 0.
  drain {
    task "template" "drain" {
      when = local.nginx
      src  = "${path.role}/../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { upstream = rollout.upstream, app_port = param.app_port, proxy_next_upstream = param.stack.proxy_next_upstream }
    }
    task "compose_up" "proxy" {
      file     = local.compose
      project  = local.project
      services = ["proxy"]
    }
    task "haproxy_upstream" "drain" {
      when     = local.haproxy
      socket   = param.haproxy_socket
      upstream = rollout.upstream
      port     = param.app_port
    }
    task "proxy_reload" "drain" {
      when    = local.nginx
      file    = local.compose
      project = local.project
      conf    = local.conf
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

  # Every healthy replica in the upstream. Takes no server out, so it need
  # not wait for nginx's old workers (the next drain does), unless they
  # may have none to send to (a heal: every replica was down, or new).
  undrain {
    task "haproxy_upstream" "undrain" {
      when     = local.haproxy
      socket   = param.haproxy_socket
      upstream = rollout.upstream
      port     = param.app_port
    }
    task "template" "undrain" {
      when = local.nginx
      src  = "${path.role}/../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { upstream = rollout.upstream, app_port = param.app_port, proxy_next_upstream = param.stack.proxy_next_upstream }
    }
    task "proxy_reload" "undrain" {
      when             = local.nginx
      file             = local.compose
      project          = local.project
      conf             = local.conf
      wait_old_workers = rollout.heal
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
