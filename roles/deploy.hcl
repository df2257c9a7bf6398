# deploy: bring the stack to var.version with var.replicas replicas, from
# whatever state it is in: nothing yet (provision), a healthy stack at an
# older release (upgrade), a dead, missing or extra replica, a changed
# template. Tagged provision and upgrade: both converge the same way, so
# that no path into a live stack stops a replica that serves before the
# proxy has let go of it. Converged, it changes nothing.
tags = ["provision", "upgrade"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "file" "deploy dir" {
  path  = "${local.dir}/nginx"
  state = "directory"
}

task "assert" "proxy" {
  that     = [contains(["nginx", "haproxy"], var.proxy)]
  fail_msg = "-e proxy=${var.proxy}: the proxy is nginx or haproxy"
}

task "file" "haproxy run dir" {
  when  = var.proxy == "haproxy"
  path  = "${local.dir}/haproxy/run"
  state = "directory"
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

# HAProxy's configuration does not name the replicas (slots): rendered once,
# reloaded (seamlessly) only when it changed.
task "template" "haproxy.cfg" {
  when = var.proxy == "haproxy"
  src  = "../templates/haproxy.cfg.tmpl"
  dest = local.haproxy_cfg
}

# Fails before anything is drained when an image is missing, the rendered
# file is invalid or the daemon does not answer.
task "compose_check" "images and daemon" {
  file    = local.compose
  project = local.project
}

task "compose_up" "db" {
  file     = local.compose
  project  = local.project
  services = ["db"]
}

task "compose_up" "haproxy" {
  when     = var.proxy == "haproxy"
  file     = local.compose
  project  = var.project
  services = ["proxy"]
}

task "haproxy_reload" "haproxy.cfg" {
  when          = var.proxy == "haproxy"
  conf          = local.haproxy_cfg
  socket        = local.haproxy_socket
  master_socket = local.haproxy_master
}

include "rollout" {
  vars = {
    stack             = local.stack
    rolling_to        = var.version
    fallback          = local.previous
    parallelism       = var.parallelism
    order             = var.order
    delay             = var.delay
    monitor           = var.monitor
    failure_action    = var.failure_action
    max_failure_ratio = var.max_failure_ratio
    services          = local.services
    proxy             = var.proxy
    haproxy_socket    = local.haproxy_socket
  }
}

include "record_release" {
  vars = { now_at = var.version }
}
