"""Storage that is not a file in a directory pool: clients of the storage systems whose
volumes a VM's disks can live on (Ceph RBD). No libvirt here."""
