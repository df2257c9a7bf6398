# bluegreen switchback: switch the proxy back to the other (idle) colour, in
# one nginx reload, once each of its replicas is checked: it runs the
# recorded release and is healthy. Refused, with nothing changed, when the
# idle colour was retired or never deployed, or does not turn healthy (a
# failed deploy). Tagged never: -t switchback. Running it again switches
# forth again.
tags = ["never", "switchback"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "assert" "state" {
  that     = [contains(local.colour_names, local.live)]
  fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
}

task "assert" "idle colour exists" {
  that     = [local.idle_release != ""]
  fail_msg = "there is no colour to switch back to: ${local.idle} was never deployed or was retired (${local.idle_record} is absent); ${local.live} (${local.live_release}) stays live"
}

task "template" "compose file" {
  src  = "../templates/bluegreen-compose.yml.tmpl"
  dest = local.compose
  vars = { colours = local.existing }
}

task "compose_outdated" "as recorded" {
  file     = local.compose
  project  = var.project
  services = local.idle_services
  register = "stale"
}
task "assert" "as recorded" {
  that     = [!stale.changed]
  fail_msg = "${local.idle} does not run its recorded release ${local.idle_release} (${stale.msg}): not switched, ${local.live} (${local.live_release}) stays live"
}

include "healthy" {
  vars = { waiting_for = local.idle_services }
}

include "bluegreen_switch" {
  vars = { switch_release = local.idle_release }
}
