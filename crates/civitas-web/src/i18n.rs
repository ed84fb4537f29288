//! User-facing text: Vietnamese by default, English on request (`?lang=en` or the `lang`
//! cookie). Keys are English identifiers; every key has both texts.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

/// The Vietnamese or English text of an inline pair (texts used in one place only).
pub fn tr(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::En { en } else { vi }
}

/// Vietnam's time zone: UTC+7 all year.
const VIETNAM: time::UtcOffset = time::macros::offset!(+7);

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// A day as people read it: `30/11/2026` (Vietnamese), `30 Nov 2026` (English, the same
    /// order with the month's name).
    pub fn date(self, d: time::Date) -> String {
        match self {
            Lang::Vi => format!("{:02}/{:02}/{}", d.day(), d.month() as u8, d.year()),
            Lang::En => format!("{} {} {}", d.day(), &d.month().to_string()[..3], d.year()),
        }
    }

    /// A stored day (`YYYY-MM-DD`) as people read it; other text is shown as it is.
    pub fn day(self, iso: &str) -> String {
        match time::Date::parse(iso, time::macros::format_description!("[year]-[month]-[day]")) {
            Ok(d) => self.date(d),
            Err(_) => iso.to_owned(),
        }
    }

    /// A date that may lack its day or month (`03/1990`, `1990`; `Mar 1990` in English).
    pub fn partial_date(self, d: &civitas_core::PartialDate) -> String {
        match (self, d.to_date()) {
            (_, Some(full)) => self.date(full),
            (Lang::Vi, None) => d.vn_text(),
            (Lang::En, None) => match d.month().and_then(|m| time::Month::try_from(m).ok()) {
                Some(m) => format!("{} {}", &m.to_string()[..3], d.year()),
                None => d.year().to_string(),
            },
        }
    }

    /// A stored instant (RFC 3339, UTC) in Vietnam's time (UTC+7, no daylight saving):
    /// `30/11/2026 17:45`; text that is not a timestamp is shown as it is.
    pub fn time(self, rfc3339: &str) -> String {
        let parsed = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339);
        match parsed {
            Ok(at) => {
                let at = at.to_offset(VIETNAM);
                format!("{} {:02}:{:02}", self.date(at.date()), at.hour(), at.minute())
            }
            Err(_) => rfc3339.to_owned(),
        }
    }

    /// The text of `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        let (vi, en) = match key {
            "app" => ("civitas — Cơ sở dữ liệu quốc gia về dân cư", "civitas — National population database"),
            "skip" => ("Chuyển đến nội dung chính", "Skip to main content"),
            "switch" => ("English", "Tiếng Việt"),
            "signin" => ("Đăng nhập cán bộ", "Officer sign-in"),
            "signin.token" => ("Mã truy cập (token)", "Access token"),
            "signin.hint" => (
                "Dán mã truy cập do quản trị viên cấp (lệnh civitas token).",
                "Paste the access token issued by your administrator (civitas token command).",
            ),
            "signin.submit" => ("Đăng nhập", "Sign in"),
            "signin.invalid" => {
                ("Mã truy cập không hợp lệ hoặc đã hết hạn.", "The access token is invalid or has expired.")
            }
            "signin.empty" => ("Nhập mã truy cập.", "Enter the access token."),
            "signout" => ("Đăng xuất", "Sign out"),
            "error.summary" => ("Có lỗi cần sửa", "There is a problem"),
            "search" => ("Tra cứu công dân", "Search people"),
            "search.name" => ("Họ và tên", "Full name"),
            "search.name.hint" => {
                ("Có thể gõ không dấu, ví dụ: nguyen van an", "Diacritics optional, e.g. nguyen van an")
            }
            "search.year" => ("Năm sinh", "Birth year"),
            "search.commune" => ("Xã/phường (tên, ví dụ Ba Đình)", "Commune (its name, e.g. Ba Dinh)"),
            "search.submit" => ("Tìm kiếm", "Search"),
            "search.none" => ("Không tìm thấy công dân phù hợp.", "No matching person found."),
            "search.results" => ("Kết quả", "Results"),
            "search.bad_year" => ("Năm sinh phải là 4 chữ số.", "Birth year must be 4 digits."),
            "search.short" => ("Nhập ít nhất 2 ký tự của họ tên.", "Enter at least 2 characters of the name."),
            "search.bad_commune" => (
                "Không có đúng một xã/phường với tên này trong phạm vi của bạn.",
                "No single commune of that name is within your units.",
            ),
            "pid" => ("Số định danh cá nhân", "Personal ID number"),
            "full_name" => ("Họ, chữ đệm và tên", "Full name"),
            "birth_date" => ("Ngày sinh", "Date of birth"),
            "sex" => ("Giới tính", "Sex"),
            "ethnicity" => ("Dân tộc", "Ethnicity"),
            "religion" => ("Tôn giáo", "Religion"),
            "nationality" => ("Quốc tịch", "Nationality"),
            "hometown" => ("Quê quán", "Hometown"),
            "marital" => ("Tình trạng hôn nhân", "Marital status"),
            "status" => ("Tình trạng", "Status"),
            "permanent" => ("Nơi thường trú", "Permanent residence"),
            "temporary" => ("Nơi tạm trú", "Temporary residence"),
            "current" => ("Nơi ở hiện tại", "Current residence"),
            "household" => ("Hộ gia đình", "Household"),
            "relation" => ("Quan hệ với chủ hộ", "Relation to head"),
            "history" => ("Lịch sử thay đổi", "Change history"),
            "version" => ("Phiên bản", "Version"),
            "time" => ("Thời gian", "Time"),
            "actor" => ("Người thực hiện", "By"),
            "change" => ("Thay đổi", "Change"),
            "basis" => ("Căn cứ pháp lý", "Legal basis"),
            "person" => ("Thông tin công dân", "Person"),
            "not_found" => ("Không tìm thấy", "Not found"),
            "not_found.person" => ("Không có công dân với số định danh này.", "No person has this ID number."),
            "bad_pid" => ("Số định danh không hợp lệ", "Invalid ID number"),
            "forbidden" => ("Không có quyền truy cập", "Access denied"),
            "forbidden.role" => {
                ("Vai trò của bạn không được dùng chức năng này.", "Your role may not use this function.")
            }
            "error.page" => ("Không thực hiện được yêu cầu", "The request could not be done"),
            "forbidden.unit" => (
                "Công dân này không thuộc địa bàn bạn được giao.",
                "This person is outside the administrative units assigned to you.",
            ),
            "back" => ("Quay lại tra cứu", "Back to search"),
            "signed_in_as" => ("Đang đăng nhập", "Signed in as"),
            "unit" => ("Địa bàn", "Units"),
            "none" => ("—", "—"),
            _ => identity_text(key),
        };
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// Texts of the e-ID and sign-in pages.
fn identity_text(key: &str) -> (&'static str, &'static str) {
    match key {
        "account.action" => ("Thao tác", "Action"),
        "account.address" => ("Địa chỉ IP", "IP address"),
        "account.client" => ("Ứng dụng", "Application"),
        "account.consents" => ("Ứng dụng được chia sẻ thông tin", "Applications you share data with"),
        "account.device" => ("Thiết bị", "Device"),
        "account.end" => ("Kết thúc", "End"),
        "account.end_all" => ("Đăng xuất khỏi mọi thiết bị", "Sign out everywhere"),
        "account.fields" => ("Thông tin", "Data"),
        "account.granted" => ("Ngày đồng ý", "Granted"),
        "account.home" => ("Về trang tài khoản", "Go to your account"),
        "account.level" => ("Mức định danh", "Identity level"),
        "account.lock" => ("Khóa tài khoản", "Lock your account"),
        "account.lock_button" => ("Khóa tài khoản của tôi", "Lock my account"),
        "account.lock_text" => (
            "Nếu nghi ngờ tài khoản bị lộ, hãy khóa ngay. Để mở khóa, liên hệ công an cấp xã.",
            "If you think your account is compromised, lock it now. To unlock it, contact the commune police.",
        ),
        "account.locked" => ("Tài khoản đã bị khóa", "Account locked"),
        "account.locked_text" => (
            "Tài khoản của bạn đã được khóa và mọi phiên đăng nhập đã kết thúc.",
            "Your account is locked and every session has ended.",
        ),
        "account.no_consents" => {
            ("Bạn chưa chia sẻ thông tin với ứng dụng nào.", "You have not shared data with any application.")
        }
        "account.no_reads" => ("Chưa có ai truy cập dữ liệu của bạn.", "Nobody has read your data yet."),
        "account.purpose" => ("Mục đích", "Purpose"),
        "account.reads" => ("Ai đã truy cập dữ liệu của tôi", "Who read my data"),
        "account.revoke" => ("Thu hồi", "Withdraw"),
        "account.scopes" => ("Phạm vi", "Scopes"),
        "account.second_factor" => ("Xác thực hai yếu tố", "Second factor"),
        "account.session_level" => ("Mức của phiên hiện tại", "Level of this session"),
        "account.sessions" => ("Phiên đăng nhập", "Sessions"),
        "account.started" => ("Bắt đầu", "Started"),
        "account.state" => ("Trạng thái", "State"),
        "account.this_device" => ("(thiết bị này)", "(this device)"),
        "account.title" => ("Tài khoản định danh điện tử", "Your e-ID account"),
        "activate" => ("Kích hoạt tài khoản", "Activate your account"),
        "activate.done" => ("Đã kích hoạt tài khoản", "Account activated"),
        "activate.done_text" => (
            "Tài khoản mức 1 của bạn đã sẵn sàng. Hãy đăng nhập bằng số định danh và mật khẩu.",
            "Your level-1 account is ready. Sign in with your ID number and password.",
        ),
        "activate.intro" => (
            "Nếu thông tin khớp với Cơ sở dữ liệu quốc gia về dân cư, mã kích hoạt đã được gửi đến số điện thoại của bạn.",
            "If your details match the national population database, an activation code was sent to your phone.",
        ),
        "code" => ("Mã xác nhận", "Code"),
        "consent.allow" => ("Đồng ý", "Allow"),
        "consent.asks" => ("đề nghị được:", "asks to:"),
        "consent.deny" => ("Từ chối", "Deny"),
        "consent.revocable" => (
            "Bạn có thể thu hồi sự đồng ý bất cứ lúc nào tại trang tài khoản.",
            "You can withdraw this at any time on your account page.",
        ),
        "consent.title" => ("Chia sẻ thông tin", "Share your data"),
        "csrf" => (
            "Mã chống giả mạo (CSRF) thiếu hoặc sai: hãy tải lại trang.",
            "The CSRF token is missing or wrong: reload the page.",
        ),
        "email.optional" => ("Thư điện tử (không bắt buộc)", "E-mail (optional)"),
        "error.birth_date" => (
            "Nhập ngày sinh theo dạng ngày/tháng/năm, ví dụ 15/03/1990.",
            "Enter the date of birth as day/month/year, e.g. 15/03/1990.",
        ),
        "error.code" => ("Mã không đúng hoặc đã hết hạn.", "The code is wrong or has expired."),
        "error.email" => ("Địa chỉ thư điện tử không hợp lệ.", "The e-mail address is not valid."),
        "error.internal" => {
            ("Hệ thống đang gặp sự cố, vui lòng thử lại sau.", "Something went wrong on our side; try again later.")
        }
        "error.name" => ("Nhập họ và tên.", "Enter the full name."),
        "error.phone" => (
            "Nhập số điện thoại di động gồm 10 chữ số, bắt đầu bằng 0.",
            "Enter a 10-digit mobile number starting with 0.",
        ),
        "error.pid" => ("Số định danh cá nhân gồm 12 chữ số.", "The personal ID number has 12 digits."),
        "forgot" => ("Quên mật khẩu", "Forgot password"),
        "forgot.intro" => (
            "Nhập số định danh và số điện thoại đã đăng ký; mã đặt lại mật khẩu sẽ được gửi qua tin nhắn.",
            "Enter your ID number and registered phone; a reset code will be sent by SMS.",
        ),
        "forgot.submit" => ("Gửi mã", "Send code"),
        "level.1" => ("Mức 1", "Level 1"),
        "level.2" => ("Mức 2", "Level 2"),
        "logout.bad_hint" => ("Mã định danh (id_token_hint) không hợp lệ.", "The id_token_hint is not valid."),
        "logout.bad_redirect" => (
            "Địa chỉ chuyển hướng sau đăng xuất chưa được đăng ký cho ứng dụng này.",
            "The post-logout redirect URI is not registered for this application.",
        ),
        "logout.confirm" => ("Đăng xuất?", "Sign out?"),
        "logout.confirm_text" => (
            "Một ứng dụng yêu cầu đăng xuất bạn khỏi tài khoản định danh điện tử.",
            "An application asks to sign you out of your e-ID account.",
        ),
        "logout.done" => ("Đã đăng xuất", "Signed out"),
        "logout.done_text" => ("Bạn đã đăng xuất.", "You are signed out."),
        "no" => ("Không", "No"),
        "officer.accounts" => ("Tài khoản định danh điện tử", "e-ID accounts"),
        "officer.console" => ("Trang cán bộ", "Officer console"),
        "officer.done" => ("Đã thực hiện.", "Done."),
        "officer.level2_by" => ("Nâng mức 2 bởi", "Raised to level 2 by"),
        "officer.lock" => ("Khóa tài khoản", "Lock the account"),
        "officer.lock_button" => ("Khóa", "Lock"),
        "officer.no_account" => {
            ("Công dân này chưa có tài khoản định danh điện tử.", "This person has no e-ID account.")
        }
        "officer.not_officer" => ("Tài khoản của bạn không có vai trò cán bộ.", "Your account has no officer role."),
        "officer.not_possible" => ("Không thể thực hiện", "Not possible"),
        "officer.place" => ("Nơi xác minh (trụ sở công an)", "Place of verification (police office)"),
        "officer.place_missing" => ("Nhập nơi xác minh.", "Enter the place of verification."),
        "officer.raise" => ("Nâng lên mức 2 (đã xác minh trực tiếp)", "Raise to level 2 (verified in person)"),
        "officer.raise_button" => ("Nâng mức 2", "Raise to level 2"),
        "officer.raised" => (
            "Đã nâng lên mức 2. Giao cho công dân khóa TOTP và mã dự phòng dưới đây (chỉ hiển thị một lần).",
            "Raised to level 2. Hand the TOTP key and recovery codes below to the person (shown once).",
        ),
        "officer.reason" => ("Lý do", "Reason"),
        "officer.reason_missing" => ("Nhập lý do.", "Enter the reason."),
        "officer.recovery" => ("Mã dự phòng", "Recovery codes"),
        "officer.totp_secret" => ("Khóa TOTP", "TOTP key"),
        "officer.unlock" => ("Mở khóa tài khoản", "Unlock the account"),
        "officer.unlock_button" => ("Mở khóa", "Unlock"),
        "oidc.error" => ("Yêu cầu đăng nhập không hợp lệ", "Invalid sign-in request"),
        "oidc.expired" => (
            "Yêu cầu đăng nhập đã hết hạn hoặc không tồn tại. Hãy quay lại ứng dụng và thử lại.",
            "The sign-in request has expired or does not exist. Go back to the application and try again.",
        ),
        "otp.code" => ("Mã xác thực", "Verification code"),
        "otp.hint" => (
            "Nhập mã 6 chữ số trong ứng dụng xác thực, hoặc một mã dự phòng.",
            "Enter the 6-digit code from your authenticator app, or a recovery code.",
        ),
        "otp.submit" => ("Xác nhận", "Verify"),
        "otp.title" => ("Xác thực bước hai", "Second step"),
        "otp.wrong" => ("Mã xác thực không đúng.", "The code is not correct."),
        "outbox.body" => ("Nội dung", "Text"),
        "outbox.intro" => (
            "Bộ gửi thử nghiệm: tin nhắn và thư không được gửi thật mà hiển thị ở đây.",
            "Development sender: messages are not really sent; they are shown here.",
        ),
        "outbox.subject" => ("Tiêu đề", "Subject"),
        "outbox.title" => ("Hộp thư đi (thử nghiệm)", "Outbox (development)"),
        "outbox.to" => ("Người nhận", "To"),
        "password" => ("Mật khẩu", "Password"),
        "password.hint" => (
            "Ít nhất 8 ký tự; không dùng số định danh, ngày sinh hoặc mật khẩu phổ biến.",
            "At least 8 characters; not your ID number, birth date or a common password.",
        ),
        "password.new" => ("Mật khẩu mới", "New password"),
        "phone" => ("Số điện thoại di động", "Mobile phone"),
        "policy.password-contains-pid" => {
            ("Mật khẩu không được chứa số định danh.", "The password must not contain your ID number.")
        }
        "policy.password-is-name" => {
            ("Mật khẩu không được chỉ gồm họ tên của bạn.", "The password must not be made of your name.")
        }
        "policy.password-is-birth-date" => {
            ("Mật khẩu không được là ngày sinh.", "The password must not be your birth date.")
        }
        "policy.password-too-common" => {
            ("Mật khẩu này quá phổ biến, hãy chọn mật khẩu khác.", "This password is too common; choose another.")
        }
        "policy.password-too-long" => {
            ("Mật khẩu không được dài quá 128 ký tự.", "The password must have at most 128 characters.")
        }
        "policy.password-too-short" => {
            ("Mật khẩu phải có ít nhất 8 ký tự.", "The password must have at least 8 characters.")
        }
        "reason.deceased" => ("công dân đã chết", "the person has died"),
        "register" => ("Đăng ký tài khoản", "Create an account"),
        "register.birth_hint" => ("Ngày/tháng/năm, ví dụ 15/03/1990", "Day/month/year, e.g. 15/03/1990"),
        "register.intro" => (
            "Tài khoản mức 1 dành cho công dân từ 14 tuổi. Thông tin được đối chiếu với Cơ sở dữ liệu quốc gia về dân cư.",
            "Level-1 accounts are for citizens aged 14 and over. Your details are checked against the national population database.",
        ),
        "register.submit" => ("Tiếp tục", "Continue"),
        "reset" => ("Đặt lại mật khẩu", "Reset your password"),
        "reset.done" => ("Đã đổi mật khẩu", "Password changed"),
        "reset.done_text" => (
            "Mật khẩu đã được đổi; mọi phiên đăng nhập cũ đã kết thúc.",
            "Your password is changed; every earlier session has ended.",
        ),
        "reset.intro" => (
            "Nếu thông tin khớp, mã đặt lại mật khẩu đã được gửi đến số điện thoại của bạn.",
            "If your details match, a reset code was sent to your phone.",
        ),
        "save" => ("Lưu", "Save"),
        "scope.address" => ("Xem nơi thường trú", "See your permanent address"),
        "scope.dossiers" => {
            ("Nộp và theo dõi hồ sơ thủ tục hành chính của bạn", "Submit and follow your administrative dossiers")
        }
        "scope.access" => (
            "Xem ai đã đọc dữ liệu của bạn, kèm biên nhận kiểm chứng được",
            "See who read your data, with verifiable receipts",
        ),
        "scope.documents" => ("Xem và thêm giấy tờ trong kho dữ liệu của bạn", "See and add documents in your store"),
        "scope.certificates" => ("Xem giấy tờ hộ tịch của bạn", "See your civil-status certificates"),
        "scope.email" => ("Xem địa chỉ thư điện tử", "See your e-mail address"),
        "scope.offline_access" => ("Truy cập khi bạn không đăng nhập", "Keep access while you are signed out"),
        "scope.openid" => ("Xác nhận danh tính của bạn", "Confirm who you are"),
        "scope.other" => ("Truy cập dữ liệu khác", "Access other data"),
        "scope.phone" => ("Xem số điện thoại", "See your phone number"),
        "scope.pid" => ("Xem số định danh cá nhân", "See your personal ID number"),
        "scope.profile" => ("Xem họ tên, ngày sinh, giới tính", "See your name, date of birth and sex"),
        "signin.for" => ("Đăng nhập để tiếp tục đến", "Sign in to continue to"),
        "signin.intro" => (
            "Dùng số định danh cá nhân và mật khẩu tài khoản định danh điện tử.",
            "Use your personal ID number and e-ID password.",
        ),
        "signin.locked" => ("Tài khoản đang bị khóa", "The account is locked"),
        "signin.password_missing" => ("Nhập mật khẩu.", "Enter your password."),
        "signin.pending" => ("Tài khoản chưa được kích hoạt.", "The account is not activated yet."),
        "signin.pid_missing" => ("Nhập số định danh cá nhân.", "Enter your personal ID number."),
        "signin.revoked" => ("Tài khoản đã bị thu hồi", "The account has been revoked"),
        "signin.throttled" => (
            "Đăng nhập sai quá nhiều lần. Thử lại sau {n} giây.",
            "Too many failed attempts. Try again in {n} seconds.",
        ),
        "signin.title" => ("Đăng nhập tài khoản định danh điện tử", "Sign in with your e-ID"),
        "signin.with_token" => {
            ("Đăng nhập bằng mã truy cập (cán bộ kỹ thuật)", "Sign in with an access token (technical staff)")
        }
        "signin.wrong" => ("Số định danh hoặc mật khẩu không đúng.", "The ID number or password is wrong."),
        "state.active" => ("Đang hoạt động", "Active"),
        "state.locked" => ("Bị khóa", "Locked"),
        "state.pending" => ("Chờ kích hoạt", "Waiting for activation"),
        "state.revoked" => ("Đã thu hồi", "Revoked"),
        "yes" => ("Có", "Yes"),
        "child.title" => ("Đăng ký tài khoản cho con dưới 14 tuổi", "Register an account for a child under 14"),
        "child.intro" => (
            "Cha, mẹ có tài khoản mức 2 đăng ký tài khoản mức 1 cho con dưới 14 tuổi và đặt mật khẩu cho con.",
            "A parent with a level-2 account registers a level-1 account for their child under 14 and sets the child's password.",
        ),
        "child.step_up" => {
            ("Xác thực bước hai để đăng ký cho con", "Verify with your second factor to register a child")
        }
        "child.pid" => ("Số định danh của con", "Child's personal ID number"),
        "child.password" => ("Mật khẩu cho tài khoản của con", "Password for the child's account"),
        "child.submit" => ("Đăng ký cho con", "Register the child"),
        "child.done" => ("Đã đăng ký tài khoản cho con", "Child's account registered"),
        "child.done_text" => ("Tài khoản mức 1 của con đã được tạo.", "The child's level-1 account is ready."),
        "child.not-a-parent" => (
            "Cơ sở dữ liệu dân cư không ghi nhận bạn là cha hoặc mẹ của người này.",
            "The register does not record you as a parent of this person.",
        ),
        "child.child-over-14" => {
            ("Người từ đủ 14 tuổi tự đăng ký tài khoản.", "People aged 14 and over register themselves.")
        }
        "child.account-exists" => {
            ("Người này đã có tài khoản định danh điện tử.", "This person already has an e-ID account.")
        }
        "child.guardian-not-level-2" => {
            ("Chỉ tài khoản mức 2 mới được đăng ký cho con.", "Only a level-2 account may register a child.")
        }
        "child.person-not-living" => ("Không thể đăng ký cho người này.", "This person cannot be registered."),
        "child.age" => ("Không thể đăng ký cho người này.", "This person cannot be registered."),
        "signin.busy" => {
            ("Hệ thống đang quá tải, vui lòng thử lại sau ít giây.", "The service is busy; try again in a few seconds.")
        }
        "officer.revoke" => ("Thu hồi tài khoản", "Revoke the account"),
        "officer.revoke_button" => ("Thu hồi", "Revoke"),
        _ => ("?", "?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_as_people_read_them() {
        let d = time::macros::date!(2026 - 03 - 05);
        assert_eq!(Lang::Vi.date(d), "05/03/2026");
        assert_eq!(Lang::En.date(d), "5 Mar 2026");
        assert_eq!(Lang::Vi.day("2026-11-30"), "30/11/2026");
        assert_eq!(Lang::Vi.day("not a day"), "not a day");
        // Stored in UTC, shown in Vietnam's time (UTC+7): 17:45 the same day, 06:30 the next.
        assert_eq!(Lang::Vi.time("2026-11-30T10:45:30.518696Z"), "30/11/2026 17:45");
        assert_eq!(Lang::En.time("2026-11-30T23:30:00Z"), "1 Dec 2026 06:30");
        assert_eq!(Lang::Vi.time("t"), "t");
        let partial = |s: &str| s.parse::<civitas_core::PartialDate>().unwrap();
        assert_eq!(Lang::Vi.partial_date(&partial("1990-03")), "03/1990");
        assert_eq!(Lang::En.partial_date(&partial("1990-03")), "Mar 1990");
        assert_eq!(Lang::En.partial_date(&partial("1990")), "1990");
        assert_eq!(Lang::Vi.partial_date(&partial("1990-03-15")), "15/03/1990");
    }
}
