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
# The proxy kind does the switch, whichever proxy -e proxy names: every
# replica of `to` in, every other running replica out. nginx: one conf
# (templates/nginx.conf.tmpl, replicas by address, the others `down`), one
# reload; it returns once the old workers, which finish the requests in
# flight to the old colour, are gone. haproxy: no reload; over the runtime
# API `to`'s replicas go ready (it returns once HAProxy's checks, every
# 500 ms on /ping, see them up), only then the other colour's drain (no new
# request) and go to maint once their sessions are 0 (at most
# drain_timeout). For that moment both colours serve; no client connection
# is closed.

include "healthy" {
  vars = { waiting_for = local.services[local.to] }
}

# HAProxy's haproxy.cfg (slots for both colours, no replica named): reloaded
# seamlessly only when it changed; nginx's conf directory. Then the proxy,
# which reads them when it starts (HAProxy's runtime API's socket dir too),
# serving nothing until the switch puts a colour in: started by the first
# switch (provision's), and again should it have died.
task "proxy" "setup" {
  proxy     = var.proxy
  action    = "setup"
  dir       = local.dir
  templates = "../templates"
  project   = var.project
}
task "compose_up" "proxy" {
  file     = local.compose
  project  = var.project
  services = ["proxy"]
}

# The replicas of every colour that exists (and of `to`) that run, with
# their addresses. Each replica of `to` is listed, running or not: one that
# does not run (no address) fails the switch before anything is drained.
task "compose_replicas" "colours" {
  file     = local.compose
  project  = var.project
  services = flatten([for c in distinct(concat([local.to], keys(local.existing))) : local.services[c]])
  register = "colours"
}
task "proxy" "switch" {
  proxy     = var.proxy
  action    = "drain"
  dir       = local.dir
  templates = "../templates"
  project   = var.project
  upstream = [for s in distinct(concat(local.services[local.to], keys(colours.outputs.addresses))) : {
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
