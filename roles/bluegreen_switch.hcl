# bluegreen_switch: send every request to colour `to` once each of its
# replicas is healthy (zdplay's gate), then record it as the live colour.
# Included with the live colour first by provision, deploy and retire (a
# no-op, unless an earlier run was interrupted between its switch and its
# record: then traffic goes back to the recorded colour, which that run left
# running, before the other colour is replaced or removed), and with the
# idle colour by deploy and switchback:
#
#   to       the colour to serve
#   release  the release it runs
#
# nginx: the conf names `to`'s replicas only; one reload switches, and
# proxy_reload returns once the old workers, which finish the requests in
# flight to the old colour, are gone.
#
# haproxy: no reload. haproxy.cfg names no replica (server-template slots,
# checked every 500 ms on /ping): rendered once, reloaded seamlessly only
# when it changes. haproxy_upstream puts every replica of both colours in a
# slot over the runtime API: `to`'s ready, and returns once HAProxy's checks
# see them up; only then the other colour's drain (no new request) and go to
# maint once their sessions are 0 (at most drain_timeout). For that moment
# both colours serve; no client connection is closed.

include "healthy" {
  vars = { waiting_for = local.services[local.to] }
}

# The proxy itself is started by provision only: nothing else recreates it.
task "template" "proxy conf" {
  src  = local.conf_src
  dest = local.conf
  vars = { upstream = local.services[local.to], live_colour = local.to, live_release = local.release, slots = 2 * var.replicas }
}
task "proxy_reload" "switch" {
  when    = var.proxy == "nginx"
  file    = local.compose
  project = var.project
  conf    = local.conf
}
task "haproxy_reload" "haproxy.cfg" {
  when          = var.proxy == "haproxy"
  conf          = local.conf
  socket        = "${local.haproxy_run}/admin.sock"
  master_socket = "${local.haproxy_run}/master.sock"
}

# The replicas of every colour that exists (and of `to`) that run, with
# their addresses. Each replica of `to` is listed, running or not: one that
# does not run fails haproxy_upstream before the other colour is drained.
task "compose_replicas" "colours" {
  when     = var.proxy == "haproxy"
  file     = local.compose
  project  = var.project
  services = flatten([for c in distinct(concat([local.to], keys(local.existing))) : local.services[c]])
  register = "colours"
}
task "haproxy_upstream" "switch" {
  when          = var.proxy == "haproxy"
  socket        = "${local.haproxy_run}/admin.sock"
  upstream      = [for s in distinct(concat(local.services[local.to], keys(colours.outputs.addresses))) : {
    name = s, address = lookup(colours.outputs.addresses, s, ""), down = !contains(local.services[local.to], s)
  }]
  drain_timeout = var.drain_timeout
}

block "record" {
  for_each = { "live-colour" = local.to, "live-release" = local.release, "${local.to}-release" = local.release }

  task "template" "record" {
    src  = "../templates/bluegreen-value.tmpl"
    dest = "${local.dir}/${each.key}"
    vars = { value = each.value }
  }
}
