# swarm_update on its own, outside swarm.hcl's roles: a service's image
# rolled by the given update_config (the Swarm end-to-end test runs it).
variable "docker_host" {
  default = ""
}
variable "service" {}
variable "image" {}
variable "order" {
  default = "start-first"
}

play "update" {
  roles = ["update"]
}

role "update" {
  task "swarm_update" "image" {
    service        = var.service
    image          = var.image
    docker_host    = var.docker_host
    parallelism    = 1
    order          = var.order
    failure_action = "rollback"
    monitor        = "500ms"
  }

  task "swarm_wait" "tasks" {
    service     = var.service
    image       = var.image
    docker_host = var.docker_host
  }
}
