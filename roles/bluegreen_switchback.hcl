# bluegreen switchback: switch the proxy back to the other (idle) colour
# (bluegreen_switch), once each of its replicas is checked: it runs the
# recorded release and is healthy. Refused, with nothing changed, when the
# idle colour was retired or never deployed, or does not turn healthy (a
# failed deploy). Tagged never: -t switchback. Running it again switches
# forth again.
tags = ["never", "switchback"]

include "bluegreen_state" {}

task "assert" "idle colour exists" {
  that     = [local.idle_release != ""]
  fail_msg = "there is no colour to switch back to: ${local.idle} was never deployed or was retired (${local.idle_record} is absent); ${local.live} (${local.live_release}) stays live"
}

task "compose_outdated" "as recorded" {
  file     = local.compose
  project  = var.project
  services = local.idle_services
  register = "stale"
}
task "assert" "as recorded" {
  that     = [length(stale.outputs.outdated) == 0]
  fail_msg = "${local.idle} does not run its recorded release ${local.idle_release} (${join("; ", stale.outputs.reasons)}): not switched, ${local.live} (${local.live_release}) stays live"
}

include "bluegreen_switch" {
  vars = { to = local.idle, release = local.idle_release }
}
