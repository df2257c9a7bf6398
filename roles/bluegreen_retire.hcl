# bluegreen retire: remove the idle colour's containers (after a deploy: the
# previous release; after a failed deploy: the release that did not turn
# healthy), so that only the live colour runs; switchback is then refused
# until the next deploy. Tagged never: -t retire.
tags = ["never", "retire"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "assert" "state" {
  that     = [contains(local.colour_names, local.live)]
  fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
}

# The proxy serves the recorded live colour before the other one goes away
# (a no-op unless an earlier run was interrupted between its switch and its
# record), and its old workers are gone: nothing reaches the idle colour.
task "template" "proxy on the live colour" {
  src      = "../templates/bluegreen-nginx.conf.tmpl"
  dest     = local.conf
  vars     = { upstream = local.live_services, live_colour = local.live, live_release = local.live_release }
  register = "live_conf"
}
serial "live replica" {
  for_each = local.live_services
  when     = live_conf.changed

  task "wait_healthy" "healthy" {
    file    = local.compose
    project = var.project
    service = each.value
    timeout = var.health_timeout
  }
}
task "proxy_reload" "proxy on the live colour" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

# Nothing reaches them any more: stop them (SIGTERM, then SIGKILL after
# stop_timeout seconds) and remove them.
task "compose_remove" "idle colour" {
  project      = var.project
  services     = local.idle_services
  grace_period = var.stop_timeout
}

task "file" "idle colour's release record" {
  path  = local.idle_record
  state = "absent"
}

task "template" "compose file" {
  src  = "../templates/bluegreen-compose.yml.tmpl"
  dest = local.compose
  vars = { colours = { (local.live) = local.live_release } }
}
