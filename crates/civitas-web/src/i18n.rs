//! User-facing text: Vietnamese by default, English on request (`?lang=en` or the `lang`
//! cookie). Keys are English identifiers; every key has both texts.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

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
            "search.commune" => ("Mã xã/phường", "Commune code"),
            "search.submit" => ("Tìm kiếm", "Search"),
            "search.none" => ("Không tìm thấy công dân phù hợp.", "No matching person found."),
            "search.results" => ("Kết quả", "Results"),
            "search.bad_year" => ("Năm sinh phải là 4 chữ số.", "Birth year must be 4 digits."),
            "search.short" => ("Nhập ít nhất 2 ký tự của họ tên.", "Enter at least 2 characters of the name."),
            "search.bad_commune" => {
                ("Mã xã/phường không thuộc phạm vi của bạn.", "That commune is outside your units.")
            }
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
            "forbidden.unit" => (
                "Công dân này không thuộc địa bàn bạn được giao.",
                "This person is outside the administrative units assigned to you.",
            ),
            "back" => ("Quay lại tra cứu", "Back to search"),
            "signed_in_as" => ("Đang đăng nhập", "Signed in as"),
            "unit" => ("Địa bàn", "Units"),
            "none" => ("—", "—"),
            _ => ("?", "?"),
        };
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}
