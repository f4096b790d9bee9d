"""What the browser tests share: a headless Chromium logged in to the site, the site itself
(through Frappe, to prepare data and read results), and an in-process CAMS gateway.

Run with the bench's Python, which has Frappe, this app and selenium (see browser/run).
Configuration, from the environment:

  CAMS_BENCH            the bench directory                       (/root/frappe-bench)
  CAMS_SITE             the site, also the Host the browser sends (cams.localhost)
  CAMS_BROWSER_PORT     where the site's web server listens       (8000)
  CAMS_BROWSER_USER     / CAMS_BROWSER_PASSWORD                   (Administrator / admin)
  CAMS_SCREENSHOTS      a folder to save the README's screenshots in (none: not saved)
  CAMS_CHROMIUM / CAMS_CHROMEDRIVER                               (/usr/bin/chromium, /usr/bin/chromedriver)
"""

import os
import re
import secrets
import time
import unittest
from pathlib import Path

import frappe
from frappe.utils.background_jobs import get_redis_conn
from rq.suspension import is_suspended
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cams_biometric.tests.utils import make_employee

BENCH = os.environ.get("CAMS_BENCH", str(Path.home() / "frappe-bench"))
SITE = os.environ.get("CAMS_SITE", "test.cams.localhost")
PORT = int(os.environ.get("CAMS_BROWSER_PORT", "8000"))
USER = os.environ.get("CAMS_BROWSER_USER", "Administrator")
PASSWORD = os.environ.get("CAMS_BROWSER_PASSWORD", "admin")
# The longest a background job is waited for while the page shows it still moving.
MOST_SECONDS = 600
# Resolved now: connect_site() moves to the bench's sites folder.
SCREENSHOTS = os.environ.get("CAMS_SCREENSHOTS") and str(Path(os.environ["CAMS_SCREENSHOTS"]).resolve())
CHROMIUM = os.environ.get("CAMS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CAMS_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1440, 900  # a common laptop screen; the list shows 6 columns from 1367 px

# Console errors that say something about the environment, not the app: without a socket.io
# server (plain gunicorn) the desk's realtime client fails to connect, which the app must
# survive (the load form polls), so its errors are expected here.
# Nor can a test machine without internet reach the map tiles of a form with a Geolocation
# field (Employee Checkin): a name that does not resolve is not the app's doing either.
IGNORED_CONSOLE = (
	re.compile(r"socket\.io", re.I),
	re.compile(r"Failed to load resource: net::ERR_NAME_NOT_RESOLVED"),
)


def connect_site():
	"""This process's own Frappe connection to the site, to prepare data and check results."""
	sites = str(Path(BENCH) / "sites")
	os.chdir(sites)  # Frappe writes its logs to ../logs from the sites folder
	frappe.init(site=SITE, sites_path=sites)
	frappe.connect()
	frappe.set_user("Administrator")


def fresh_snapshot():
	"""See what the web server and the workers committed since this connection last read."""
	frappe.db.rollback()


def make_driver() -> webdriver.Chrome:
	options = webdriver.ChromeOptions()
	options.binary_location = CHROMIUM
	for argument in (
		"--headless=new",
		"--no-sandbox",
		"--disable-dev-shm-usage",
		"--disable-gpu",
		f"--window-size={WIDTH},{HEIGHT}",
		# The site is chosen by the Host header: let the browser reach it by its own name.
		f"--host-resolver-rules=MAP {SITE} 127.0.0.1",
	):
		options.add_argument(argument)
	options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
	return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class DeskTestCase(unittest.TestCase):
	"""One browser, logged in once through the login page, for the tests of a class.

	After every test the browser's console must hold no error (an uncaught exception, a
	script that failed to load): a button whose code is missing fails only there.
	"""

	driver: webdriver.Chrome
	base_url = f"http://{SITE}:{PORT}"
	user, password = USER, PASSWORD  # whom the class logs in as

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		connect_site()
		cls.driver = make_driver()
		cls.console_seen = []
		try:
			cls.log_in()
		except Exception:
			cls.driver.quit()
			raise

	@classmethod
	def tearDownClass(cls):
		cls.driver.quit()
		frappe.destroy()
		super().tearDownClass()

	@classmethod
	def log_in(cls):
		cls.driver.get(f"{cls.base_url}/login")
		wait = WebDriverWait(cls.driver, 30)
		wait.until(lambda d: d.find_element(By.ID, "login_email").is_displayed())
		cls.driver.find_element(By.ID, "login_email").send_keys(cls.user)
		cls.driver.find_element(By.ID, "login_password").send_keys(cls.password)
		cls.driver.find_element(By.CSS_SELECTOR, ".btn-login").click()
		wait.until(lambda d: "/app" in d.current_url)

	def setUp(self):
		super().setUp()
		self.console_errors()  # what earlier tests left belongs to them

	def tearDown(self):
		errors = self.console_errors()
		super().tearDown()
		if errors:
			self.fail("The browser's console has errors:\n" + "\n".join(errors))

	# -- the console -----------------------------------------------------------------
	def console_errors(self) -> list[str]:
		entries = self.driver.get_log("browser")
		self.console_seen.extend(entries)
		return [
			entry["message"]
			for entry in entries
			if entry["level"] == "SEVERE" and not any(p.search(entry["message"]) for p in IGNORED_CONSOLE)
		]

	# -- waiting and finding ---------------------------------------------------------
	def wait_for(self, condition, timeout: float = 30, message: str = ""):
		"""Wait until condition(driver) is truthy and return it."""
		try:
			return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(condition)
		except TimeoutException:
			# What the page threw is usually why it never got there (e.g. a button's missing code).
			errors = self.console_errors()  # reported here, so not again by tearDown
			console = "\nThe browser's console has errors:\n" + "\n".join(errors) if errors else ""
			self.fail((message or f"Timed out after {timeout} s waiting for {condition}") + console)

	def wait_for_worker(self, condition, timeout: float = 60, message: str = "", moving=None):
		"""wait_for what a background job does.

		On a busy 2-core machine a job may start late and run slowly, so the wait follows what
		the user sees: ``moving()`` (e.g. the progress bar's width) changing gives the job
		another ``timeout`` seconds from then, up to MOST_SECONDS in all; a job that shows no
		change for ``timeout`` seconds fails. RQ's suspension holds every worker using this
		Redis, and tier 2 suspends them while its test classes run (of this bench, or of
		another bench sharing the Redis): while they are suspended, wait longer, up to the
		5 minutes such a suspension lasts at most."""
		started = time.monotonic()
		deadline = started + timeout
		last_seen = moving() if moving else None
		while True:
			if value := condition(self.driver):
				return value
			now = time.monotonic()
			if moving and (seen := moving()) != last_seen:
				last_seen = seen
				deadline = min(now + timeout, started + MOST_SECONDS)
			if workers_suspended():
				deadline = min(max(deadline, now + 10), started + MOST_SECONDS)
			if now > deadline:
				suspended = (
					" (the bench's RQ workers are suspended: a tier-2 run?)" if workers_suspended() else ""
				)
				waited = f"{now - started:.0f} s in all, {timeout} s without a change"
				self.fail((message or f"Timed out waiting for {condition}") + f" ({waited})" + suspended)
			time.sleep(0.4)

	def js(self, script: str, *args):
		return self.driver.execute_script(script, *args)

	def open(self, path: str):
		"""Go to a desk path (e.g. /app/cams-biometric-settings) and wait for the page."""
		self.driver.get(self.base_url + path)
		self.wait_for(
			lambda d: d.execute_script(
				"return !!(window.frappe && frappe.container && frappe.container.page"
				" && frappe.dom && !frappe.dom.freeze_count)"
			),
			message=f"{path} did not render",
		)

	def open_form(self, doctype: str, name: str):
		self.open(f"/app/{frappe.scrub(doctype).replace('_', '-')}/{name}")
		self.wait_for_form(doctype, name)

	def wait_for_form(self, doctype: str, name: str | None = None, timeout: float = 30):
		self.wait_for(
			lambda d: d.execute_script(
				"const f = window.cur_frm; return !!(f && f.doctype === arguments[0]"
				" && (!arguments[1] || f.docname === arguments[1]) && f.doc && !f.doc.__islocal"
				" && $(f.wrapper).is(':visible'))",
				doctype,
				name,
			),
			timeout,
			f"the {doctype} form {name or ''} did not show",
		)

	def visible(self, css: str) -> list:
		elements = []
		for element in self.driver.find_elements(By.CSS_SELECTOR, css):
			try:
				if element.is_displayed():
					elements.append(element)
			except StaleElementReferenceException:
				continue
		return elements

	def page_button(self, label: str, timeout: float = 10):
		"""A visible button of the current page (toolbar, form, dialog) labelled ``label``."""

		def find(_driver):
			for button in self.visible(".page-head button, .form-page button, .modal.show button"):
				try:
					if button.text.strip() == label:
						return button
				except StaleElementReferenceException:
					continue
			return None

		return self.wait_for(find, timeout, f"no visible button {label!r}")

	def button_labels(self) -> list[str]:
		return [b.text.strip() for b in self.visible(".page-head button") if b.text.strip()]

	def form_messages(self) -> list[str]:
		"""The texts of the banners above the form (frm.dashboard.set_headline / add_comment)."""
		return [m.text.strip() for m in self.visible(".form-message")]

	def alerts(self) -> list[tuple[str, str]]:
		"""The toasts of frappe.show_alert on screen: (text, indicator colour)."""
		found = self.js(
			"return $('.desk-alert:visible').map((i, el) => [[$(el).text().trim(),"
			" ($(el).attr('class').match(/\\b(green|red|orange|blue|yellow|gray)\\b/) || [''])[0]]]).get()"
		)
		return [tuple(alert) for alert in found]

	# -- screenshots -----------------------------------------------------------------
	def screenshot(self, name: str):
		"""Save the page as docs/screenshots/<name>.png when CAMS_SCREENSHOTS says where."""
		if not SCREENSHOTS:
			return
		# Let transitions (alerts fading in, the progress bar's width) settle.
		time.sleep(0.6)
		folder = Path(SCREENSHOTS)
		folder.mkdir(parents=True, exist_ok=True)
		self.driver.save_screenshot(str(folder / f"{name}.png"))

	# -- pages still to come (issue 11's reports and workspace) -------------------------
	def assert_report_renders(self, report: str, filters: dict | None = None, min_rows: int = 1):
		"""Open a query report with filters and check it shows at least ``min_rows`` rows."""
		query = "&".join(f"{k}={v}" for k, v in (filters or {}).items())
		self.open(f"/app/query-report/{report}" + (f"?{query}" if query else ""))
		rows = self.wait_for(
			lambda d: d.execute_script(
				"const r = frappe.query_report; return r && r.report_name === arguments[0]"
				" && !r.loading && r.data ? r.data.length : null",
				report,
			),
			message=f"the report {report} did not load",
		)
		self.assertGreaterEqual(rows, min_rows, f"{report} shows {rows} rows")
		return rows

	def assert_workspace_numbers(self, workspace: str):
		"""Open a workspace and check each of its number cards shows a number."""
		self.open(f"/app/{frappe.scrub(workspace).replace('_', '-')}")
		# Every card's number, once each has loaded (they load one by one).
		cards = self.wait_for(
			lambda d: (
				(
					texts := d.execute_script(
						"return Array.from(document.querySelectorAll('.number-widget-box'))"
						".map(box => ((box.querySelector('.number') || {}).innerText || '').trim())"
					)
				)
				and all(texts)
				and texts
			),
			message=f"the workspace {workspace} shows no number cards, or not all of them",
		)
		for text in cards:
			self.assertRegex(text, r"\d", f"a number card of {workspace} shows {text!r}")
		return cards


# The password of hr_manager(), new for each run.
HR_PASSWORD = "Cams-" + secrets.token_urlsafe(12)


class HRManagerDeskTestCase(DeskTestCase):
	"""The pages as an HR Manager sees them, and does what they do (not Administrator)."""

	@classmethod
	def log_in(cls):
		cls.hr_manager = hr_manager()
		cls.user, cls.password = cls.hr_manager, HR_PASSWORD
		super().log_in()


def hr_manager() -> str:
	"""A user with the HR Manager role who logs in with HR_PASSWORD. Like a real one, they are
	an Employee too (which reads the Company filter of Daily Punches): HRMS drops the Employee
	role of a user no Employee record names, so one does, without User Permissions."""
	from frappe.utils.password import update_password

	email = "cams-browser-hr-manager@example.com"
	if not frappe.db.exists("User", email):
		user = frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": "CAMS HR Manager", "send_welcome_email": 0}
		)
		user.flags.in_import = True
		user.insert(ignore_permissions=True)
	if not frappe.db.exists("Employee", {"user_id": email}):
		make_employee(None, first_name="CAMS HR Manager", user_id=email, create_user_permission=0)
	user = frappe.get_doc("User", email)
	user.enabled = 1
	user.set("roles", [])
	user.save(ignore_permissions=True)
	user.add_roles("HR Manager", "Employee")
	update_password(email, HR_PASSWORD)
	frappe.db.commit()  # nosemgrep: the web server reads it
	return email


def workers_suspended() -> bool:
	return is_suspended(get_redis_conn())
