from cams_biometric.install import add_checkin_index


def execute():
	# Sites installed before the index; new installs get it in after_install.
	add_checkin_index()
