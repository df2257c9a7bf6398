# bluegreen_state: first in every bluegreen role. One run at a time on this
# deployment (a second one is refused at once, naming this one; held until
# the run ends or its process dies); nothing is touched unless the recorded
# state and -e proxy make sense; then the compose file of the recorded state
# (the colours that exist, at their releases), which the role changes only
# to add or remove a colour.

task "lock" "project" {
  path = local.lock
}

task "assert" "state" {
  that     = [contains(local.colour_names, local.live)]
  fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
}

task "assert" "proxy" {
  that     = [contains(["nginx", "haproxy"], var.proxy)]
  fail_msg = "-e proxy=${var.proxy}: the proxy is nginx or haproxy"
}

task "template" "compose file" {
  src  = "../templates/bluegreen-compose.yml.tmpl"
  dest = local.compose
  vars = { colours = local.existing }
}
