# bluegreen deploy: bring the idle colour up at var.version beside the live
# one, wait until every replica of it is healthy, then switch the proxy to
# it (bluegreen_switch) and record it as the live colour. The old colour
# keeps running, for an instant switch back (-t switchback) until it is
# retired (-t retire) or the next deploy goes to it.
#
# If the idle colour does not turn healthy the proxy is never switched: the
# live colour keeps serving every request, and the run fails saying so. The
# failed colour is left as it is, for inspection; -t retire removes it.
#
# Deploying the release that is already live changes nothing.
tags = ["deploy"]

include "bluegreen_state" {}

# The proxy on the recorded live colour before the idle one is replaced.
include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release }
}

block "release to the idle colour" {
  when = var.version != local.live_release

  task "template" "compose file" {
    src  = "../templates/bluegreen-compose.yml.tmpl"
    dest = local.compose
    vars = { colours = merge(local.existing, { (local.idle) = var.version }) }
  }

  # Fails before anything changes when an image is missing, the rendered
  # file is invalid or the daemon does not answer.
  task "compose_check" "images and daemon" {
    file    = local.compose
    project = var.project
  }

  task "template" "record the idle colour's release" {
    src  = "../templates/bluegreen-value.tmpl"
    dest = local.idle_record
    vars = { value = var.version }
  }

  block "idle colour" {
    # Only the idle colour's services (and the db when it does not run):
    # the live colour and the proxy are not touched.
    task "compose_up" "idle colour" {
      file     = local.compose
      project  = var.project
      services = local.idle_services
    }

    include "healthy" {
      vars = { waiting_for = local.idle_services }
    }

    rescue {
      task "fail" "not switched" {
        msg = "release ${var.version} did not turn healthy on ${local.idle} (see the failed task above): the proxy was not switched, ${local.live} (${local.live_release}) still serves every request; ${local.idle} is left as it is for inspection, -t retire removes it"
      }
    }
  }

  # Its gate passes at once: the idle colour was just seen healthy.
  include "bluegreen_switch" {
    vars = { to = local.idle, release = var.version }
  }
}
