# upgrade: move every replica to var.version, one at a time, so that the
# others keep serving: drain it in nginx, recreate it, wait until it is
# healthy, put it back. Replicas already at the release are not touched.
#
# If a replica does not turn healthy, the rescue rolls every replica back to
# the release recorded by the last good run, the same way, and the run
# fails saying so.
tags = ["upgrade"]

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

# Fails before anything is drained when an image is missing, the rendered
# file is invalid or the daemon does not answer.
task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

serial "replica" {
  for_each = local.services

  task "compose_outdated" "outdated" {
    file     = local.compose
    project  = var.project
    service  = each.value
    register = "outdated"
  }

  block "replace" {
    when = outdated.changed

    task "template" "drain" {
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { down = [each.value] }
    }
    task "proxy_reload" "drain" {
      file    = local.compose
      project = var.project
      conf    = local.conf
    }
    task "compose_recreate" "recreate" {
      file    = local.compose
      project = var.project
      service = each.value
    }
    task "wait_healthy" "healthy" {
      file    = local.compose
      project = var.project
      service = each.value
      timeout = var.health_timeout
    }
    task "template" "undrain" {
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { down = [] }
    }
    task "proxy_reload" "undrain" {
      file    = local.compose
      project = var.project
      conf    = local.conf
    }
  }

  rescue {
    task "template" "compose file at the last good release" {
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = local.previous }
    }

    # The failed replica first: it is drained already, and the others stay
    # in service while it is restored.
    serial "rollback" {
      for_each = concat([each.value], [for s in local.services : s if s != each.value])

      task "compose_outdated" "outdated" {
        file     = local.compose
        project  = var.project
        service  = each.value
        register = "diverged"
      }

      block "restore" {
        when = diverged.changed

        task "template" "drain" {
          src  = "../templates/nginx.conf.tmpl"
          dest = local.conf
          vars = { down = [each.value], version = local.previous }
        }
        task "proxy_reload" "drain" {
          file    = local.compose
          project = var.project
          conf    = local.conf
        }
        task "compose_recreate" "recreate" {
          file    = local.compose
          project = var.project
          service = each.value
        }
        task "wait_healthy" "healthy" {
          file    = local.compose
          project = var.project
          service = each.value
          timeout = var.health_timeout
        }
        task "template" "undrain" {
          src  = "../templates/nginx.conf.tmpl"
          dest = local.conf
          vars = { down = [], version = local.previous }
        }
        task "proxy_reload" "undrain" {
          file    = local.compose
          project = var.project
          conf    = local.conf
        }
      }
    }

    task "assert" "rolled back" {
      that     = [false]
      fail_msg = "release ${var.version} did not turn healthy: every replica was rolled back to ${local.previous}"
    }
  }
}

# Every replica in service: a no-op after a clean upgrade, and what brings
# the proxy back in line when an earlier run was interrupted mid-way.
task "template" "all replicas in service" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = [] }
}
task "proxy_reload" "all replicas in service" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
}
