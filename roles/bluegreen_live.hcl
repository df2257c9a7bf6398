# bluegreen_live: make sure the proxy serves the recorded live colour, and
# that its old workers are gone, before the other colour is touched. A no-op,
# unless an earlier run was interrupted between its switch and its record;
# then traffic goes back to the recorded colour (which that run left
# running) first, so that the colour about to be replaced or removed serves
# nothing. Included by deploy and retire.

task "assert" "state" {
  that     = [contains(local.colour_names, local.live)]
  fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
}

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
